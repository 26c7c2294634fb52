#include "dataset/copy_format.h"

#include <charconv>
#include <cstdio>

namespace psvc::dataset {

void AppendCopyEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

void CopyLineBuilder::Separator() {
  if (fields_++ > 0) line_ += '\t';
}

void CopyLineBuilder::Text(std::string_view value) {
  Separator();
  AppendCopyEscaped(line_, value);
}

void CopyLineBuilder::Null() {
  Separator();
  line_ += "\\N";
}

void CopyLineBuilder::Int(int64_t value) {
  Separator();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  line_.append(buf, end);
}

void CopyLineBuilder::Fixed(int64_t scaled, int decimals) {
  Separator();
  if (scaled < 0) {
    line_ += '-';
    scaled = -scaled;
  }
  int64_t divisor = 1;
  for (int i = 0; i < decimals; ++i) divisor *= 10;
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, scaled / divisor);
  line_.append(buf, end);
  if (decimals > 0) {
    line_ += '.';
    std::string frac = std::to_string(scaled % divisor);
    line_.append(static_cast<size_t>(decimals) - frac.size(), '0');
    line_ += frac;
  }
}

void CopyLineBuilder::Date(int year, int month, int day) {
  Separator();
  char buf[16];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  line_.append(buf, static_cast<size_t>(n));
}

void CopyLineBuilder::TextArray(std::span<const std::string> values) {
  Separator();
  // Two layers: the array literal quotes elements and escapes `"` and `\` inside them;
  // the COPY layer then escapes the literal's own backslashes (and any tab/newline).
  std::string literal = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    literal += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  AppendCopyEscaped(line_, literal);
}

std::vector<std::optional<std::string>> ParseCopyLine(std::string_view line) {
  std::vector<std::optional<std::string>> fields;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    std::string_view raw = line.substr(start, tab == std::string_view::npos ? tab : tab - start);
    if (raw == "\\N") {
      fields.emplace_back(std::nullopt);
    } else {
      std::string value;
      value.reserve(raw.size());
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\' || i + 1 == raw.size()) {
          value += raw[i];
          continue;
        }
        char next = raw[++i];
        switch (next) {
          case 't':
            value += '\t';
            break;
          case 'n':
            value += '\n';
            break;
          case 'r':
            value += '\r';
            break;
          default:
            value += next;
        }
      }
      fields.emplace_back(std::move(value));
    }
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

}  // namespace psvc::dataset
