#include "db/binary_copy.h"

#include <cstring>

namespace psvc::db {

namespace {

constexpr std::string_view kSignature{"PGCOPY\n\377\r\n\0", 11};

}  // namespace

int32_t BinaryRow::Int32(int i) const {
  if (null[i]) return 0;
  if (field[i].size() != 4) throw DbError(ErrorKind::kInternal, "COPY: int4 field is not 4 bytes");
  const auto* p = reinterpret_cast<const uint8_t*>(field[i].data());
  return static_cast<int32_t>(uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
                              uint32_t{p[3]});
}

std::string_view BinaryRow::Uuid(int i) const {
  if (field[i].size() != 16)
    throw DbError(ErrorKind::kInternal, "COPY: uuid field is not 16 bytes");
  return field[i];
}

size_t BinaryCopyParser::HeaderSize(std::string_view data) {
  constexpr size_t kFixed = 11 + 4 + 4;  // signature, flags, extension length
  if (data.size() < kFixed) return 0;
  if (data.substr(0, kSignature.size()) != kSignature) Fail("not binary COPY data");
  const size_t extension = BigEndian32(data.data() + 15);
  if (data.size() < kFixed + extension) return 0;
  return kFixed + extension;
}

void BinaryCopyParser::Finish() const {
  if (!ended_ || !pending_.empty()) Fail("data ended before the trailer");
}

void BinaryCopyParser::Fail(const char* what) {
  throw DbError(ErrorKind::kInternal, std::string("COPY: ") + what);
}

}  // namespace psvc::db
