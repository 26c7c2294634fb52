#pragma once
/// Rows of `COPY ... TO STDOUT (FORMAT binary)` output, parsed without a copy per field: a
/// uuid arrives as its 16 bytes, an integer as 4 or 8 big-endian bytes, text as its bytes.
/// Format: PostgreSQL's "Binary Format" of COPY (a signature, flags, a header extension, then
/// per row a 16-bit field count and per field a 32-bit length, -1 for NULL, and the bytes; a
/// count of -1 ends the data).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "db/connection.h"
#include "db/error.h"

namespace psvc::db {

/// One row: its fields as views into the COPY data (valid during the callback only).
struct BinaryRow {
  static constexpr int kMaxFields = 8;
  int fields = 0;
  std::array<std::string_view, kMaxFields> field{};
  std::array<bool, kMaxFields> null{};

  /// An int4 column (4 bytes, big-endian); 0 when NULL.
  int32_t Int32(int i) const;
  /// A text column's bytes; empty when NULL.
  std::string_view Text(int i) const { return field[i]; }
  /// A uuid column's 16 bytes (throws DbError when the field is not 16 bytes).
  std::string_view Uuid(int i) const;
};

/// Feed it the chunks Connection::CopyOut delivers; it calls `on_row(const BinaryRow&)` for
/// every complete row. A row split across chunks is put together first.
class BinaryCopyParser {
 public:
  template <typename OnRow>
  void Feed(std::string_view chunk, OnRow&& on_row) {
    if (!pending_.empty()) {
      pending_.append(chunk);
      const size_t used = Parse(pending_, on_row);
      pending_.erase(0, used);
      return;
    }
    const size_t used = Parse(chunk, on_row);
    pending_.assign(chunk.substr(used));
  }
  /// Throws DbError unless the data ended exactly with the trailer.
  void Finish() const;
  uint64_t rows() const { return rows_; }

 private:
  /// Parses complete rows from `data`; returns the bytes consumed.
  template <typename OnRow>
  size_t Parse(std::string_view data, OnRow& on_row) {
    size_t at = 0;
    if (!header_done_) {
      const size_t header = HeaderSize(data);
      if (header == 0) return 0;  // not all of the header yet
      at = header;
      header_done_ = true;
    }
    BinaryRow row;
    while (!ended_ && data.size() - at >= 2) {
      const int16_t count = static_cast<int16_t>(BigEndian16(data.data() + at));
      if (count == -1) {
        ended_ = true;
        at += 2;
        break;
      }
      if (count < 0 || count > BinaryRow::kMaxFields) Fail("unexpected field count");
      size_t p = at + 2;
      bool complete = true;
      for (int f = 0; f < count; ++f) {
        if (data.size() - p < 4) {
          complete = false;
          break;
        }
        const int32_t len = static_cast<int32_t>(BigEndian32(data.data() + p));
        p += 4;
        if (len < 0) {
          row.field[f] = {};
          row.null[f] = true;
          continue;
        }
        if (data.size() - p < static_cast<size_t>(len)) {
          complete = false;
          break;
        }
        row.field[f] = data.substr(p, static_cast<size_t>(len));
        row.null[f] = false;
        p += static_cast<size_t>(len);
      }
      if (!complete) break;
      row.fields = count;
      on_row(static_cast<const BinaryRow&>(row));
      ++rows_;
      at = p;
    }
    if (ended_ && at != data.size()) Fail("data after the trailer");
    return at;
  }

  /// Bytes of the header at the start of `data`, 0 when incomplete; throws when malformed.
  static size_t HeaderSize(std::string_view data);
  static uint16_t BigEndian16(const char* p) {
    return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) << 8 | static_cast<uint8_t>(p[1]));
  }
  static uint32_t BigEndian32(const char* p) {
    return uint32_t{static_cast<uint8_t>(p[0])} << 24 | uint32_t{static_cast<uint8_t>(p[1])} << 16 |
           uint32_t{static_cast<uint8_t>(p[2])} << 8 | uint32_t{static_cast<uint8_t>(p[3])};
  }
  [[noreturn]] static void Fail(const char* what);

  std::string pending_;
  bool header_done_ = false;
  bool ended_ = false;
  uint64_t rows_ = 0;
};

/// Runs `select_sql` as `COPY (select_sql) TO STDOUT (FORMAT binary)` through `conn` (in the
/// caller's transaction, if any) and calls `on_row(const BinaryRow&)` for each row as it
/// arrives. Throws DbError when the statement fails or its output is malformed.
template <typename OnRow>
void CopyRows(Connection& conn, std::string_view select_sql, OnRow&& on_row) {
  BinaryCopyParser parser;
  conn.CopyOut("COPY (" + std::string(select_sql) + ") TO STDOUT (FORMAT binary)",
               [&](std::string_view chunk) { parser.Feed(chunk, on_row); });
  parser.Finish();
}

}  // namespace psvc::db
