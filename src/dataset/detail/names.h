#pragma once
/// Plausible synthetic names: romanized Japanese-looking words with their katakana, English
/// title fragments, people, companies, synopses and episode titles.

#include <string>
#include <string_view>

#include "dataset/detail/random.h"

namespace psvc::dataset::detail {

/// A name in romaji (Latin letters, sometimes with macrons) and its katakana spelling.
struct JapaneseText {
  std::string romaji;
  std::string kana;
};

/// One capitalized word of `min_syllables`..`max_syllables` syllables. A long vowel (ō, ū)
/// appears with probability `long_vowel_chance` per word, so accent-folding search has work.
JapaneseText JapaneseWord(Rng& rng, int min_syllables, int max_syllables, double long_vowel_chance);
/// A franchise's base title ("Hoshizora no Kanata"), romaji and katakana.
JapaneseText FranchiseTitle(Rng& rng);
/// An English title ("The Crimson Sky Academy"); sometimes with a loanword like "Café".
std::string EnglishTitle(Rng& rng);
/// A person: romaji "Given Family", kana "Family Given"; sometimes a single name.
JapaneseText PersonName(Rng& rng);
/// A company name; studios and producers use different suffixes.
std::string CompanyName(Rng& rng, bool studio);
/// A two-sentence synopsis about `hero` in `place`.
std::string Synopsis(Rng& rng, std::string_view hero, std::string_view place);
/// A short episode title ("The Girl Who Chased the Moon").
std::string EpisodeTitle(Rng& rng);
/// A one-line character description.
std::string CharacterDescription(Rng& rng, std::string_view franchise_title);
/// Lower-noise ASCII spelling of romaji: ō → ou, ū → uu, é → e (a common synonym form).
std::string AsciiRomaji(std::string_view text);
/// Upper-case initials of a multi-word title ("Hoshizora no Kanata" → "HnK").
std::string Initials(std::string_view text);
/// "2nd", "3rd", "11th"...
std::string Ordinal(int n);

}  // namespace psvc::dataset::detail
