#pragma once
/// PostgreSQL COPY text format: building one row from typed fields, and reading it back.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace psvc::dataset {

/// Builds one COPY text-format line (tab-separated, backslash-escaped, `\N` for NULL).
class CopyLineBuilder {
 public:
  /// Starts a new line, keeping the buffer's capacity.
  void Clear() {
    line_.clear();
    fields_ = 0;
  }
  void Text(std::string_view value);
  void Null();
  void Int(int64_t value);
  /// A fixed-point number with `decimals` digits after the point (scores as hundredths),
  /// formatted without floating point so the output is the same everywhere.
  void Fixed(int64_t scaled, int decimals);
  /// A date as YYYY-MM-DD.
  void Date(int year, int month, int day);
  /// A one-dimensional text[] literal; every element is quoted, none is NULL.
  void TextArray(std::span<const std::string> values);
  /// The line without its terminating newline.
  std::string_view line() const { return line_; }

 private:
  void Separator();

  std::string line_;
  int fields_ = 0;
};

/// Appends `value` escaped for a COPY text field (backslash, tab, newline, carriage return).
void AppendCopyEscaped(std::string& out, std::string_view value);

/// Splits a COPY text line into fields, undoing the escaping; `\N` becomes std::nullopt.
/// Used by tests and tools that read DirectorySink output.
std::vector<std::optional<std::string>> ParseCopyLine(std::string_view line);

}  // namespace psvc::dataset
