#include "dataset/detail/names.h"

#include <array>
#include <span>

namespace psvc::dataset::detail {
namespace {

struct Syllable {
  const char* romaji;
  const char* kana;
  double weight;
};

// Common syllables weighted roughly like Japanese names and titles; "n" only closes a syllable.
constexpr Syllable kSyllables[] = {
    {"ka", "カ", 6},    {"ki", "キ", 5},   {"ku", "ク", 4},      {"ke", "ケ", 3},
    {"ko", "コ", 5},    {"sa", "サ", 5},   {"shi", "シ", 5},     {"su", "ス", 4},
    {"se", "セ", 2},    {"so", "ソ", 3},   {"ta", "タ", 5},      {"chi", "チ", 3},
    {"tsu", "ツ", 3},   {"te", "テ", 2},   {"to", "ト", 5},      {"na", "ナ", 5},
    {"ni", "ニ", 3},    {"nu", "ヌ", 1},   {"ne", "ネ", 2},      {"no", "ノ", 4},
    {"ha", "ハ", 4},    {"hi", "ヒ", 4},   {"fu", "フ", 3},      {"he", "ヘ", 1},
    {"ho", "ホ", 4},    {"ma", "マ", 5},   {"mi", "ミ", 5},      {"mu", "ム", 2},
    {"me", "メ", 2},    {"mo", "モ", 3},   {"ya", "ヤ", 4},      {"yu", "ユ", 4},
    {"yo", "ヨ", 3},    {"ra", "ラ", 4},   {"ri", "リ", 5},      {"ru", "ル", 3},
    {"re", "レ", 3},    {"ro", "ロ", 3},   {"wa", "ワ", 3},      {"ga", "ガ", 2},
    {"gi", "ギ", 1},    {"go", "ゴ", 2},   {"za", "ザ", 1},      {"ji", "ジ", 2},
    {"zu", "ズ", 1},    {"da", "ダ", 2},   {"do", "ド", 1},      {"ba", "バ", 1},
    {"bu", "ブ", 1},    {"a", "ア", 3},    {"i", "イ", 2},       {"u", "ウ", 1},
    {"e", "エ", 1},     {"o", "オ", 2},    {"kyo", "キョ", 1},   {"ryu", "リュ", 1},
    {"sho", "ショ", 1}, {"ju", "ジュ", 1}, {"hya", "ヒャ", 0.3},
};

const WeightedTable& SyllableTable() {
  static const WeightedTable kTable = [] {
    std::vector<double> weights;
    for (const auto& s : kSyllables) weights.push_back(s.weight);
    return WeightedTable(weights);
  }();
  return kTable;
}

template <size_t N>
std::string_view Choose(Rng& rng, const std::array<std::string_view, N>& words) {
  return words[rng.Below(N)];
}

constexpr std::array<std::string_view, 40> kAdjectives = {
    "Crimson", "Silent", "Eternal",  "Broken",  "Hidden",    "Wandering", "Last",   "Midnight",
    "Golden",  "Frozen", "Burning",  "Lost",    "Infinite",  "Scarlet",   "Azure",  "Little",
    "Distant", "Secret", "Shining",  "Hollow",  "Fallen",    "Iron",      "Velvet", "Paper",
    "Starlit", "Wild",   "Gentle",   "Final",   "Forgotten", "Electric",  "Violet", "Quiet",
    "Blue",    "Rising", "Restless", "Ancient", "Twilight",  "Summer",    "Winter", "Endless"};
constexpr std::array<std::string_view, 48> kNouns = {
    "Sky",       "Blade",     "Academy",   "Garden", "Kingdom",  "Spirit",     "Horizon",
    "Requiem",   "Alchemist", "Knight",    "Witch",  "Railway",  "Lighthouse", "Orchestra",
    "Detective", "Dragon",    "Frontier",  "Voyage", "Festival", "Moon",       "Star",
    "Ocean",     "Labyrinth", "Chronicle", "Legend", "Island",   "Summer",     "Empire",
    "Hero",      "Shrine",    "Mecha",     "Circus", "Library",  "Cathedral",  "Planet",
    "Signal",    "Melody",    "Promise",   "Memory", "Carnival", "Tower",      "River",
    "Bride",     "Pilot",     "Samurai",   "Idol",   "Exorcist", "Tale"};
// Loanwords with accents, so accent-insensitive search finds "Cafe" in "Café".
constexpr std::array<std::string_view, 10> kAccentedNouns = {
    "Café",   "Fiancée", "Protégé", "Déjà Vu", "Soirée",
    "Résumé", "Cliché",  "Naïveté", "Exposé",  "Rosé"};
constexpr std::array<std::string_view, 16> kPlaces = {
    "a quiet seaside town", "the capital",        "a floating city",        "a mountain village",
    "a girls' academy",     "the outer colonies", "a ruined kingdom",       "old Kyoto",
    "a desert frontier",    "a cursed forest",    "a space station",        "the underworld",
    "a small café",         "an island school",   "a steampunk metropolis", "the imperial court"};
constexpr std::array<std::string_view, 20> kRoles = {
    "swordsman", "student",           "pilot",  "detective", "alchemist",
    "idol",      "exorcist",          "chef",   "knight",    "hacker",
    "witch",     "volleyball player", "ninja",  "mercenary", "shrine maiden",
    "astronaut", "painter",           "doctor", "thief",     "musician"};
constexpr std::array<std::string_view, 16> kPlots = {
    "must stop a war no one else remembers",       "discovers a door between two worlds",
    "signs a contract with a fallen god",          "joins a team that has never won a match",
    "inherits a debt of a thousand years",         "wakes up in the body of a rival",
    "chases the truth behind a vanished sister",   "is chosen to pilot a forgotten machine",
    "opens a shop that serves only spirits",       "loses every memory each full moon",
    "swears to climb the tower to its last floor", "finds a letter written by their future self",
    "trains under a master who never speaks",      "is the last heir of a cursed clan",
    "must graduate before the world ends",         "records the stories of a dying city"};
constexpr std::array<std::string_view, 12> kTwists = {
    "Friendship is tested at every turn.",    "Nothing is what it seems.",
    "The past refuses to stay buried.",       "Every victory has a price.",
    "A rival waits at the end of the road.",  "Old gods are watching.",
    "Love complicates everything.",           "Time is running out.",
    "The truth is stranger than any legend.", "Not everyone will come home.",
    "Laughter is the best weapon.",           "A new season of life begins."};
constexpr std::array<std::string_view, 12> kEpisodeSubjects = {
    "The Girl",       "The Boy",  "A Stranger",  "The Knight", "The Witch",    "My Friend",
    "The Last Train", "A Letter", "The Promise", "The Storm",  "The Festival", "A Song"};
constexpr std::array<std::string_view, 12> kEpisodeVerbs = {
    "Who Chased", "Beneath", "Against", "Beyond", "Without", "Who Forgot",
    "Under",      "Before",  "After",   "Toward", "Inside",  "Across"};
constexpr std::array<std::string_view, 8> kStudioForms = {
    "Studio {}", "{} Animation", "{} Pictures", "{}-ha",
    "{} Works",  "Studio {}",    "{} Films",    "{} Production"};
constexpr std::array<std::string_view, 8> kProducerForms = {
    "{} Entertainment", "{} Records", "{} Media", "{} Shoten",
    "{} Broadcasting",  "{} Music",   "{} Games", "{} Holdings"};
constexpr std::array<std::string_view, 6> kDescriptionForms = {"A {} from {}.",
                                                               "The {} of {}.",
                                                               "A rival {} in {}.",
                                                               "A mysterious {} of {}.",
                                                               "A childhood friend and {} in {}.",
                                                               "The mentor {} of {}."};

/// Replaces each "{}" in `form` with the next argument.
std::string Format(std::string_view form, std::initializer_list<std::string_view> args) {
  std::string out;
  auto next = args.begin();
  for (size_t i = 0; i < form.size(); ++i) {
    if (form[i] == '{' && i + 1 < form.size() && form[i + 1] == '}' && next != args.end()) {
      out += *next++;
      ++i;
    } else {
      out += form[i];
    }
  }
  return out;
}

}  // namespace

JapaneseText JapaneseWord(Rng& rng, int min_syllables, int max_syllables,
                          double long_vowel_chance) {
  JapaneseText word;
  const auto count = static_cast<int>(rng.Between(min_syllables, max_syllables));
  const int long_at = rng.Chance(long_vowel_chance) ? static_cast<int>(rng.Below(count)) : -1;
  for (int i = 0; i < count; ++i) {
    const Syllable& s = kSyllables[SyllableTable().Sample(rng)];
    std::string_view romaji = s.romaji;
    const char last = romaji.back();
    if (i == long_at && (last == 'o' || last == 'u')) {
      romaji.remove_suffix(1);
      word.romaji += romaji;
      word.romaji += last == 'o' ? "ō" : "ū";
      word.kana += s.kana;
      word.kana += "ー";
    } else {
      word.romaji += romaji;
      word.kana += s.kana;
    }
    // A closing "n" now and then (Ken, Ranma); never word-initial.
    if (i + 1 < count && rng.Chance(0.08)) {
      word.romaji += 'n';
      word.kana += "ン";
    }
  }
  if (word.romaji.starts_with("ō")) {
    word.romaji.replace(0, std::string_view("ō").size(), "Ō");
  } else if (word.romaji.starts_with("ū")) {
    word.romaji.replace(0, std::string_view("ū").size(), "Ū");
  } else {
    word.romaji[0] = static_cast<char>(word.romaji[0] - 'a' + 'A');
  }
  return word;
}

JapaneseText FranchiseTitle(Rng& rng) {
  JapaneseText title = JapaneseWord(rng, 2, 4, 0.12);
  const uint64_t shape = rng.Below(10);
  if (shape < 4) {  // "X no Y"
    JapaneseText tail = JapaneseWord(rng, 2, 4, 0.08);
    title.romaji += " no " + tail.romaji;
    title.kana += "の" + tail.kana;
  } else if (shape < 6) {  // "X Y"
    JapaneseText tail = JapaneseWord(rng, 2, 3, 0.08);
    title.romaji += " " + tail.romaji;
    title.kana += tail.kana;
  } else if (shape < 7) {  // "X to Y"
    JapaneseText tail = JapaneseWord(rng, 2, 3, 0.08);
    title.romaji += " to " + tail.romaji;
    title.kana += "と" + tail.kana;
  }
  return title;
}

std::string EnglishTitle(Rng& rng) {
  const uint64_t shape = rng.Below(10);
  std::string_view noun =
      rng.Chance(0.06) ? kAccentedNouns[rng.Below(kAccentedNouns.size())] : Choose(rng, kNouns);
  if (shape < 4) return Format("The {} {}", {Choose(rng, kAdjectives), noun});
  if (shape < 6) return Format("{} of the {}", {noun, Choose(rng, kNouns)});
  if (shape < 8) return Format("{} {}", {Choose(rng, kAdjectives), noun});
  return Format("My {} {}", {Choose(rng, kAdjectives), noun});
}

JapaneseText PersonName(Rng& rng) {
  JapaneseText given = JapaneseWord(rng, 2, 3, 0.05);
  if (rng.Chance(0.06)) return given;  // single-name characters (mascots, mononyms)
  JapaneseText family = JapaneseWord(rng, 2, 4, 0.07);
  return {given.romaji + " " + family.romaji, family.kana + " " + given.kana};
}

std::string CompanyName(Rng& rng, bool studio) {
  std::string word = JapaneseWord(rng, 2, 3, 0.05).romaji;
  return studio ? Format(Choose(rng, kStudioForms), {word})
                : Format(Choose(rng, kProducerForms), {word});
}

std::string Synopsis(Rng& rng, std::string_view hero, std::string_view place) {
  std::string out(hero);
  out += ", a ";
  out += Choose(rng, kRoles);
  out += " from ";
  out += Choose(rng, kPlaces);
  if (!place.empty()) {
    out += " near ";
    out += place;
  }
  out += ", ";
  out += Choose(rng, kPlots);
  out += ". ";
  out += Choose(rng, kTwists);
  return out;
}

std::string EpisodeTitle(Rng& rng) {
  if (rng.Chance(0.3)) return Format("{} {}", {Choose(rng, kAdjectives), Choose(rng, kNouns)});
  return Format("{} {} the {}",
                {Choose(rng, kEpisodeSubjects), Choose(rng, kEpisodeVerbs), Choose(rng, kNouns)});
}

std::string CharacterDescription(Rng& rng, std::string_view franchise_title) {
  return Format(Choose(rng, kDescriptionForms), {Choose(rng, kRoles), franchise_title});
}

std::string AsciiRomaji(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const std::string_view rest = text.substr(i);
    if (rest.starts_with("ō")) {
      out += "ou";
      i += std::string_view("ō").size() - 1;
    } else if (rest.starts_with("ū")) {
      out += "uu";
      i += std::string_view("ū").size() - 1;
    } else if (rest.starts_with("é")) {
      out += "e";
      i += std::string_view("é").size() - 1;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string Initials(std::string_view text) {
  std::string out;
  bool start = true;
  bool copying = false;  // inside the first UTF-8 sequence of a word
  for (char c : text) {
    const bool continuation = (static_cast<unsigned char>(c) & 0xC0) == 0x80;
    if (c == ' ') {
      start = true;
      copying = false;
    } else if (start) {
      out += c;
      start = false;
      copying = true;
    } else if (copying && continuation) {
      out += c;
    } else {
      copying = false;
    }
  }
  return out;
}

std::string Ordinal(int n) {
  const int mod100 = n % 100;
  const char* suffix = "th";
  if (mod100 < 11 || mod100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

}  // namespace psvc::dataset::detail
