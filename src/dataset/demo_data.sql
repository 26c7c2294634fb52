-- Demo catalogue: a few real franchises so a newcomer sees familiar names.
--
-- Facts only: titles, first air or release dates, episode counts, studios, sequel chains,
-- a few main characters and the works adapted. Synopses and descriptions are our own short
-- summaries. No scores or view counts (those belong to a platform, not to the work).
-- Conventions:
--  * season/year: the broadcast season a series is catalogued under (a series starting in
--    late September or December counts for the next season); films: the quarter of their
--    Japanese release.
--  * Fixed UUIDs, one prefix per kind: de0a… anime, de0c… character, de0b… company,
--    de0f… original work, de0e… episode.
--  * Idempotent: every INSERT is ON CONFLICT DO NOTHING, so loading twice changes nothing.
--  * Relations are listed once; the inverse direction is derived below, as ingestion does.
BEGIN;

INSERT INTO company (id, name) VALUES
  ('de0b0000-0000-4000-8000-000000000001', 'Bones'),
  ('de0b0000-0000-4000-8000-000000000002', 'Wit Studio'),
  ('de0b0000-0000-4000-8000-000000000003', 'MAPPA'),
  ('de0b0000-0000-4000-8000-000000000004', 'White Fox'),
  ('de0b0000-0000-4000-8000-000000000005', 'Sunrise'),
  ('de0b0000-0000-4000-8000-000000000006', 'Gainax'),
  ('de0b0000-0000-4000-8000-000000000007', 'Tatsunoko Production'),
  ('de0b0000-0000-4000-8000-000000000008', 'Production I.G'),
  ('de0b0000-0000-4000-8000-000000000009', 'Studio Ghibli'),
  ('de0b0000-0000-4000-8000-000000000010', 'ufotable'),
  ('de0b0000-0000-4000-8000-000000000011', 'Madhouse'),
  ('de0b0000-0000-4000-8000-000000000012', 'Aniplex'),
  ('de0b0000-0000-4000-8000-000000000013', 'Shueisha'),
  ('de0b0000-0000-4000-8000-000000000014', 'Kodansha')
ON CONFLICT DO NOTHING;

INSERT INTO original_work (id, title, kind, author) VALUES
  ('de0f0000-0000-4000-8000-000000000001', 'Fullmetal Alchemist', 'MANGA', 'Hiromu Arakawa'),
  ('de0f0000-0000-4000-8000-000000000002', 'Attack on Titan', 'MANGA', 'Hajime Isayama'),
  ('de0f0000-0000-4000-8000-000000000003', 'Steins;Gate', 'VISUAL_NOVEL', 'Chiyomaru Shikura'),
  ('de0f0000-0000-4000-8000-000000000004', 'Steins;Gate 0', 'VISUAL_NOVEL', 'Chiyomaru Shikura'),
  ('de0f0000-0000-4000-8000-000000000005', 'Mobile Suit Gundam', 'ORIGINAL', 'Hajime Yatate, Yoshiyuki Tomino'),
  ('de0f0000-0000-4000-8000-000000000006', 'Neon Genesis Evangelion', 'ORIGINAL', 'Hideaki Anno'),
  ('de0f0000-0000-4000-8000-000000000007', 'Cowboy Bebop', 'ORIGINAL', 'Hajime Yatate'),
  ('de0f0000-0000-4000-8000-000000000008', 'Haikyu!!', 'MANGA', 'Haruichi Furudate'),
  ('de0f0000-0000-4000-8000-000000000009', 'Spirited Away', 'ORIGINAL', 'Hayao Miyazaki'),
  ('de0f0000-0000-4000-8000-000000000010', 'My Neighbor Totoro', 'ORIGINAL', 'Hayao Miyazaki'),
  ('de0f0000-0000-4000-8000-000000000011', 'Demon Slayer: Kimetsu no Yaiba', 'MANGA', 'Koyoharu Gotouge'),
  ('de0f0000-0000-4000-8000-000000000012', 'Frieren: Beyond Journey''s End', 'MANGA', 'Kanehito Yamada, Tsukasa Abe')
ON CONFLICT DO NOTHING;

INSERT INTO anime (id, title, title_english, title_japanese, synonyms, type, status, season, year,
                   episode_count, synopsis) VALUES
  -- Fullmetal Alchemist
  ('de0a0000-0000-4000-8000-000000000001', 'Fullmetal Alchemist', 'Fullmetal Alchemist',
   '鋼の錬金術師', '{"Hagane no Renkinjutsushi","FMA"}', 'TV', 'FINISHED', 'FALL', 2003, 51,
   'Two brothers pay a terrible price for trying to bring their mother back with alchemy and set out to find the Philosopher''s Stone.'),
  ('de0a0000-0000-4000-8000-000000000002', 'Fullmetal Alchemist: The Conqueror of Shamballa',
   'Fullmetal Alchemist the Movie: Conqueror of Shamballa', '劇場版 鋼の錬金術師 シャンバラを征く者',
   '{"Gekijouban Hagane no Renkinjutsushi: Shamballa wo Yuku Mono"}', 'MOVIE', 'FINISHED', 'SUMMER', 2005, 1,
   'Edward, stranded on the other side of the Gate, searches for a way back home.'),
  ('de0a0000-0000-4000-8000-000000000003', 'Fullmetal Alchemist: Brotherhood', 'Fullmetal Alchemist: Brotherhood',
   '鋼の錬金術師 FULLMETAL ALCHEMIST', '{"Hagane no Renkinjutsushi: Fullmetal Alchemist","FMAB"}',
   'TV', 'FINISHED', 'SPRING', 2009, 64,
   'A second adaptation that follows the manga to its end: the Elric brothers uncover a conspiracy at the heart of their country.'),
  -- Attack on Titan
  ('de0a0000-0000-4000-8000-000000000004', 'Shingeki no Kyojin', 'Attack on Titan', '進撃の巨人',
   '{"AoT","SnK"}', 'TV', 'FINISHED', 'SPRING', 2013, 25,
   'Humanity lives behind enormous walls to hide from man-eating Titans, until the day the wall is breached.'),
  ('de0a0000-0000-4000-8000-000000000005', 'Shingeki no Kyojin Season 2', 'Attack on Titan Season 2',
   '進撃の巨人 Season2', '{}', 'TV', 'FINISHED', 'SPRING', 2017, 12,
   'Titans appear inside the walls, and the Survey Corps learns that some enemies wear human faces.'),
  ('de0a0000-0000-4000-8000-000000000006', 'Shingeki no Kyojin Season 3', 'Attack on Titan Season 3',
   '進撃の巨人 Season3', '{}', 'TV', 'FINISHED', 'SUMMER', 2018, 12,
   'The Survey Corps is hunted by its own government while the truth about the royal family surfaces.'),
  ('de0a0000-0000-4000-8000-000000000007', 'Shingeki no Kyojin Season 3 Part 2', 'Attack on Titan Season 3 Part 2',
   '進撃の巨人 Season3 Part.2', '{}', 'TV', 'FINISHED', 'SPRING', 2019, 10,
   'The battle to retake Wall Maria, and what waits in the basement.'),
  ('de0a0000-0000-4000-8000-000000000008', 'Shingeki no Kyojin: The Final Season', 'Attack on Titan: Final Season',
   '進撃の巨人 The Final Season', '{}', 'TV', 'FINISHED', 'WINTER', 2021, 16,
   'Years later, the war moves across the sea to Marley.'),
  ('de0a0000-0000-4000-8000-000000000009', 'Shingeki no Kyojin: The Final Season Part 2',
   'Attack on Titan: Final Season Part 2', '進撃の巨人 The Final Season Part 2', '{}', 'TV', 'FINISHED',
   'WINTER', 2022, 12,
   'Eren sets his plan in motion and his former comrades must choose a side.'),
  -- Steins;Gate
  ('de0a0000-0000-4000-8000-000000000010', 'Steins;Gate', 'Steins;Gate', 'シュタインズ・ゲート', '{}',
   'TV', 'FINISHED', 'SPRING', 2011, 24,
   'A self-proclaimed mad scientist discovers that his microwave can send text messages to the past.'),
  ('de0a0000-0000-4000-8000-000000000011', 'Steins;Gate: Fuka Ryouiki no Déjà vu',
   'Steins;Gate: The Movie - Load Region of Déjà Vu', '劇場版 シュタインズ・ゲート 負荷領域のデジャヴ',
   '{"Gekijouban Steins;Gate"}', 'MOVIE', 'FINISHED', 'SPRING', 2013, 1,
   'A year after the series, Okabe starts to fade from the world line.'),
  ('de0a0000-0000-4000-8000-000000000012', 'Steins;Gate 0', 'Steins;Gate 0', 'シュタインズ・ゲート ゼロ', '{}',
   'TV', 'FINISHED', 'SPRING', 2018, 23,
   'In the world line where Okabe gave up, an AI built from Kurisu''s memories draws him back in.'),
  -- Mobile Suit Gundam
  ('de0a0000-0000-4000-8000-000000000013', 'Kidou Senshi Gundam', 'Mobile Suit Gundam', '機動戦士ガンダム',
   '{"Kidō Senshi Gundam","Mobile Suit Gundam 0079","First Gundam"}', 'TV', 'FINISHED', 'SPRING', 1979, 43,
   'A teenage civilian ends up piloting the Federation''s new mobile suit in the One Year War.'),
  ('de0a0000-0000-4000-8000-000000000014', 'Kidou Senshi Gundam I', 'Mobile Suit Gundam I', '機動戦士ガンダム',
   '{"Kidō Senshi Gundam I"}', 'MOVIE', 'FINISHED', 'WINTER', 1981, 1,
   'The first of three films re-editing the television series.'),
  -- Neon Genesis Evangelion
  ('de0a0000-0000-4000-8000-000000000015', 'Shin Seiki Evangelion', 'Neon Genesis Evangelion', '新世紀エヴァンゲリオン',
   '{"NGE","Evangelion"}', 'TV', 'FINISHED', 'FALL', 1995, 26,
   'Fourteen-year-old Shinji is summoned by his estranged father to pilot a giant bio-machine against the Angels.'),
  ('de0a0000-0000-4000-8000-000000000016', 'Shin Seiki Evangelion Movie: Air/Magokoro wo, Kimi ni',
   'Neon Genesis Evangelion: The End of Evangelion', '新世紀エヴァンゲリオン劇場版 Air/まごころを、君に',
   '{"The End of Evangelion","EoE"}', 'MOVIE', 'FINISHED', 'SUMMER', 1997, 1,
   'A different telling of the series'' final two episodes.'),
  -- Cowboy Bebop
  ('de0a0000-0000-4000-8000-000000000017', 'Cowboy Bebop', 'Cowboy Bebop', 'カウボーイビバップ', '{}',
   'TV', 'FINISHED', 'SPRING', 1998, 26,
   'A crew of bounty hunters drifts through the solar system in 2071, each running from a past.'),
  ('de0a0000-0000-4000-8000-000000000018', 'Cowboy Bebop: Tengoku no Tobira', 'Cowboy Bebop: The Movie',
   'カウボーイビバップ 天国の扉', '{"Cowboy Bebop: Knockin'' on Heaven''s Door"}', 'MOVIE', 'FINISHED',
   'SUMMER', 2001, 1,
   'The Bebop crew chases the bounty on a man behind a bioterrorist attack on Mars.'),
  -- Haikyu!!
  ('de0a0000-0000-4000-8000-000000000019', 'Haikyuu!!', 'Haikyu!!', 'ハイキュー!!', '{"Haikyu"}',
   'TV', 'FINISHED', 'SPRING', 2014, 25,
   'A short middle-schooler joins Karasuno High''s volleyball club, alongside the setter who once crushed his team.'),
  ('de0a0000-0000-4000-8000-000000000020', 'Haikyuu!! Second Season', 'Haikyu!! 2nd Season',
   'ハイキュー!! セカンドシーズン', '{}', 'TV', 'FINISHED', 'FALL', 2015, 25,
   'Karasuno trains through the summer and fights its way through the Spring tournament qualifiers.'),
  ('de0a0000-0000-4000-8000-000000000021', 'Haikyuu!! Karasuno Koukou vs. Shiratorizawa Gakuen Koukou',
   'Haikyu!! 3rd Season', 'ハイキュー!! 烏野高校 VS 白鳥沢学園高校', '{}', 'TV', 'FINISHED', 'FALL', 2016, 10,
   'The prefectural final against the powerhouse Shiratorizawa.'),
  ('de0a0000-0000-4000-8000-000000000022', 'Haikyuu!! To the Top', 'Haikyu!! To the Top', 'ハイキュー!! TO THE TOP',
   '{}', 'TV', 'FINISHED', 'WINTER', 2020, 13,
   'Karasuno heads to the national tournament in Tokyo.'),
  -- Studio Ghibli
  ('de0a0000-0000-4000-8000-000000000023', 'Sen to Chihiro no Kamikakushi', 'Spirited Away', '千と千尋の神隠し',
   '{}', 'MOVIE', 'FINISHED', 'SUMMER', 2001, 1,
   'A ten-year-old girl must work in a bathhouse for spirits to free her parents.'),
  ('de0a0000-0000-4000-8000-000000000024', 'Tonari no Totoro', 'My Neighbor Totoro', 'となりのトトロ', '{}',
   'MOVIE', 'FINISHED', 'SPRING', 1988, 1,
   'Two sisters moving to the countryside meet the forest spirits living nearby.'),
  -- Demon Slayer
  ('de0a0000-0000-4000-8000-000000000025', 'Kimetsu no Yaiba', 'Demon Slayer: Kimetsu no Yaiba', '鬼滅の刃', '{}',
   'TV', 'FINISHED', 'SPRING', 2019, 26,
   'After demons kill his family, Tanjiro becomes a demon slayer to turn his sister Nezuko human again.'),
  ('de0a0000-0000-4000-8000-000000000026', 'Kimetsu no Yaiba Movie: Mugen Ressha-hen',
   'Demon Slayer: Kimetsu no Yaiba - The Movie: Mugen Train', '劇場版 鬼滅の刃 無限列車編', '{}',
   'MOVIE', 'FINISHED', 'FALL', 2020, 1,
   'Tanjiro and his friends board a train where passengers keep disappearing, with the Flame Hashira Rengoku.'),
  ('de0a0000-0000-4000-8000-000000000027', 'Kimetsu no Yaiba: Yuukaku-hen',
   'Demon Slayer: Kimetsu no Yaiba Entertainment District Arc', '鬼滅の刃 遊郭編', '{"Kimetsu no Yaiba: Yūkaku-hen"}',
   'TV', 'FINISHED', 'FALL', 2021, 11,
   'The Sound Hashira Uzui leads the boys undercover into the entertainment district.'),
  -- Frieren
  ('de0a0000-0000-4000-8000-000000000028', 'Sousou no Frieren', 'Frieren: Beyond Journey''s End', '葬送のフリーレン',
   '{"Sōsō no Frieren","Frieren at the Funeral"}', 'TV', 'FINISHED', 'FALL', 2023, 28,
   'An elf mage who outlives her hero party sets out again to understand the people she travelled with.')
ON CONFLICT DO NOTHING;

INSERT INTO character (id, name, name_japanese, description) VALUES
  ('de0c0000-0000-4000-8000-000000000001', 'Edward Elric', 'エドワード・エルリック', 'The youngest State Alchemist, who lost an arm and a leg to alchemy.'),
  ('de0c0000-0000-4000-8000-000000000002', 'Alphonse Elric', 'アルフォンス・エルリック', 'Edward''s younger brother, whose soul is bound to a suit of armour.'),
  ('de0c0000-0000-4000-8000-000000000003', 'Roy Mustang', 'ロイ・マスタング', 'The Flame Alchemist, a colonel of the State military.'),
  ('de0c0000-0000-4000-8000-000000000004', 'Winry Rockbell', 'ウィンリィ・ロックベル', 'The brothers'' childhood friend and automail mechanic.'),
  ('de0c0000-0000-4000-8000-000000000005', 'Eren Yeager', 'エレン・イェーガー', 'A boy who swears to wipe out the Titans.'),
  ('de0c0000-0000-4000-8000-000000000006', 'Mikasa Ackerman', 'ミカサ・アッカーマン', 'Eren''s adoptive sister and a gifted soldier.'),
  ('de0c0000-0000-4000-8000-000000000007', 'Armin Arlert', 'アルミン・アルレルト', 'Eren''s childhood friend and a strategist.'),
  ('de0c0000-0000-4000-8000-000000000008', 'Levi', 'リヴァイ', 'Captain of the Survey Corps'' special operations squad.'),
  ('de0c0000-0000-4000-8000-000000000009', 'Rintarou Okabe', '岡部倫太郎', 'Founder of the Future Gadget Laboratory.'),
  ('de0c0000-0000-4000-8000-000000000010', 'Kurisu Makise', '牧瀬紅莉栖', 'A young neuroscience researcher.'),
  ('de0c0000-0000-4000-8000-000000000011', 'Mayuri Shiina', '椎名まゆり', 'Okabe''s childhood friend and lab member.'),
  ('de0c0000-0000-4000-8000-000000000012', 'Amuro Ray', 'アムロ・レイ', 'The civilian teenager who becomes the Gundam''s pilot.'),
  ('de0c0000-0000-4000-8000-000000000013', 'Char Aznable', 'シャア・アズナブル', 'A masked Zeon ace known as the Red Comet.'),
  ('de0c0000-0000-4000-8000-000000000014', 'Shinji Ikari', '碇シンジ', 'The Third Child, pilot of Evangelion Unit-01.'),
  ('de0c0000-0000-4000-8000-000000000015', 'Rei Ayanami', '綾波レイ', 'The First Child, pilot of Evangelion Unit-00.'),
  ('de0c0000-0000-4000-8000-000000000016', 'Asuka Langley Soryu', '惣流・アスカ・ラングレー', 'The Second Child, pilot of Evangelion Unit-02.'),
  ('de0c0000-0000-4000-8000-000000000017', 'Misato Katsuragi', '葛城ミサト', 'NERV''s operations director and Shinji''s guardian.'),
  ('de0c0000-0000-4000-8000-000000000018', 'Spike Spiegel', 'スパイク・スピーゲル', 'A bounty hunter and former syndicate member.'),
  ('de0c0000-0000-4000-8000-000000000019', 'Jet Black', 'ジェット・ブラック', 'Ex-cop and captain of the Bebop.'),
  ('de0c0000-0000-4000-8000-000000000020', 'Faye Valentine', 'フェイ・ヴァレンタイン', 'A gambler with no memory of her past.'),
  ('de0c0000-0000-4000-8000-000000000021', 'Edward Wong Hau Pepelu Tivrusky IV', 'エドワード・ウォン・ハウ・ペペル・チブルスキー4世', 'A young genius hacker.'),
  ('de0c0000-0000-4000-8000-000000000022', 'Ein', 'アイン', 'A Welsh Corgi with unusual intelligence.'),
  ('de0c0000-0000-4000-8000-000000000023', 'Shouyou Hinata', '日向翔陽', 'A short middle blocker with an enormous jump.'),
  ('de0c0000-0000-4000-8000-000000000024', 'Tobio Kageyama', '影山飛雄', 'A prodigy setter once called the King of the Court.'),
  ('de0c0000-0000-4000-8000-000000000025', 'Chihiro Ogino', '荻野千尋', 'A ten-year-old girl lost in the spirit world.'),
  ('de0c0000-0000-4000-8000-000000000026', 'Haku', 'ハク', 'A river spirit working for the witch Yubaba.'),
  ('de0c0000-0000-4000-8000-000000000027', 'Satsuki Kusakabe', '草壁サツキ', 'The elder of the two sisters.'),
  ('de0c0000-0000-4000-8000-000000000028', 'Mei Kusakabe', '草壁メイ', 'Satsuki''s four-year-old sister.'),
  ('de0c0000-0000-4000-8000-000000000029', 'Totoro', 'トトロ', 'The great spirit of the camphor tree.'),
  ('de0c0000-0000-4000-8000-000000000030', 'Tanjirou Kamado', '竈門炭治郎', 'A charcoal seller''s son turned demon slayer.'),
  ('de0c0000-0000-4000-8000-000000000031', 'Nezuko Kamado', '竈門禰豆子', 'Tanjiro''s sister, turned into a demon.'),
  ('de0c0000-0000-4000-8000-000000000032', 'Zenitsu Agatsuma', '我妻善逸', 'A cowardly swordsman who fights best asleep.'),
  ('de0c0000-0000-4000-8000-000000000033', 'Inosuke Hashibira', '嘴平伊之助', 'A boar-masked swordsman raised in the mountains.'),
  ('de0c0000-0000-4000-8000-000000000034', 'Frieren', 'フリーレン', 'An elf mage of the hero party that defeated the Demon King.'),
  ('de0c0000-0000-4000-8000-000000000035', 'Fern', 'フェルン', 'Frieren''s apprentice.'),
  ('de0c0000-0000-4000-8000-000000000036', 'Stark', 'シュタルク', 'A young warrior who joins the journey.'),
  ('de0c0000-0000-4000-8000-000000000037', 'Himmel', 'ヒンメル', 'The hero who led Frieren''s old party.')
ON CONFLICT DO NOTHING;

-- Which characters appear in which anime.
INSERT INTO anime_character (anime_id, character_id, role)
SELECT a, c, role
FROM (VALUES
  ('de0c0000-0000-4000-8000-000000000001'::uuid, '{1,2,3}'::int[], 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000002', '{1,2,3}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000003', '{1,2,3}', 'SUPPORTING'),
  ('de0c0000-0000-4000-8000-000000000004', '{1,2,3}', 'SUPPORTING'),
  ('de0c0000-0000-4000-8000-000000000005', '{4,5,6,7,8,9}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000006', '{4,5,6,7,8,9}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000007', '{4,5,6,7,8,9}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000008', '{4,5,6,7,8,9}', 'SUPPORTING'),
  ('de0c0000-0000-4000-8000-000000000009', '{10,11,12}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000010', '{10,11,12}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000011', '{10,11,12}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000012', '{13,14}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000013', '{13,14}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000014', '{15,16}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000015', '{15,16}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000016', '{15,16}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000017', '{15,16}', 'SUPPORTING'),
  ('de0c0000-0000-4000-8000-000000000018', '{17,18}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000019', '{17,18}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000020', '{17,18}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000021', '{17,18}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000022', '{17,18}', 'SUPPORTING'),
  ('de0c0000-0000-4000-8000-000000000023', '{19,20,21,22}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000024', '{19,20,21,22}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000025', '{23}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000026', '{23}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000027', '{24}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000028', '{24}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000029', '{24}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000030', '{25,26,27}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000031', '{25,26,27}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000032', '{25,26,27}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000033', '{25,26,27}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000034', '{28}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000035', '{28}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000036', '{28}', 'MAIN'),
  ('de0c0000-0000-4000-8000-000000000037', '{28}', 'SUPPORTING')
) AS v(c, anime, role),
LATERAL unnest(anime) AS n,
LATERAL (SELECT ('de0a0000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid AS a) AS ids
ON CONFLICT DO NOTHING;

-- Studios and producers (anime numbers as in the de0a… ids above).
INSERT INTO anime_company (anime_id, company_id, role)
SELECT ('de0a0000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, c, role
FROM (VALUES
  ('de0b0000-0000-4000-8000-000000000001'::uuid, '{1,2,3,18}'::int[], 'studio'),  -- Bones
  ('de0b0000-0000-4000-8000-000000000002', '{4,5,6,7}', 'studio'),                 -- Wit Studio
  ('de0b0000-0000-4000-8000-000000000003', '{8,9}', 'studio'),                     -- MAPPA
  ('de0b0000-0000-4000-8000-000000000004', '{10,11,12}', 'studio'),                -- White Fox
  ('de0b0000-0000-4000-8000-000000000005', '{13,14,17}', 'studio'),                -- Sunrise
  ('de0b0000-0000-4000-8000-000000000005', '{18}', 'producer'),
  ('de0b0000-0000-4000-8000-000000000006', '{15,16}', 'studio'),                   -- Gainax
  ('de0b0000-0000-4000-8000-000000000007', '{15}', 'studio'),                      -- Tatsunoko
  ('de0b0000-0000-4000-8000-000000000008', '{16,19,20,21,22}', 'studio'),          -- Production I.G
  ('de0b0000-0000-4000-8000-000000000009', '{23,24}', 'studio'),                   -- Studio Ghibli
  ('de0b0000-0000-4000-8000-000000000010', '{25,26,27}', 'studio'),                -- ufotable
  ('de0b0000-0000-4000-8000-000000000011', '{28}', 'studio'),                      -- Madhouse
  ('de0b0000-0000-4000-8000-000000000012', '{1,3,25,26,27}', 'producer'),          -- Aniplex
  ('de0b0000-0000-4000-8000-000000000013', '{25,26,27}', 'producer'),              -- Shueisha
  ('de0b0000-0000-4000-8000-000000000014', '{4}', 'producer')                      -- Kodansha
) AS v(c, anime, role),
LATERAL unnest(anime) AS n
ON CONFLICT DO NOTHING;

INSERT INTO anime_original_work_relation (anime_id, original_work_id)
SELECT ('de0a0000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, w
FROM (VALUES
  ('de0f0000-0000-4000-8000-000000000001'::uuid, '{1,2,3}'::int[]),
  ('de0f0000-0000-4000-8000-000000000002', '{4,5,6,7,8,9}'),
  ('de0f0000-0000-4000-8000-000000000003', '{10,11}'),
  ('de0f0000-0000-4000-8000-000000000004', '{12}'),
  ('de0f0000-0000-4000-8000-000000000005', '{13,14}'),
  ('de0f0000-0000-4000-8000-000000000006', '{15,16}'),
  ('de0f0000-0000-4000-8000-000000000007', '{17,18}'),
  ('de0f0000-0000-4000-8000-000000000008', '{19,20,21,22}'),
  ('de0f0000-0000-4000-8000-000000000009', '{23}'),
  ('de0f0000-0000-4000-8000-000000000010', '{24}'),
  ('de0f0000-0000-4000-8000-000000000011', '{25,26,27}'),
  ('de0f0000-0000-4000-8000-000000000012', '{28}')
) AS v(w, anime),
LATERAL unnest(anime) AS n
ON CONFLICT DO NOTHING;

-- Relations (anime numbers): (A, B, SEQUEL) reads "B is A's sequel". Inverses derived below.
WITH listed(a, b, relation_type) AS (VALUES
  (1, 2, 'SEQUEL'), (1, 3, 'ALTERNATIVE'),
  (4, 5, 'SEQUEL'), (5, 6, 'SEQUEL'), (6, 7, 'SEQUEL'), (7, 8, 'SEQUEL'), (8, 9, 'SEQUEL'),
  (10, 11, 'SEQUEL'), (10, 12, 'ALTERNATIVE'),
  (13, 14, 'SUMMARY'),
  (15, 16, 'ALTERNATIVE'),
  (17, 18, 'SIDE_STORY'),
  (19, 20, 'SEQUEL'), (20, 21, 'SEQUEL'), (21, 22, 'SEQUEL'),
  (25, 26, 'SEQUEL'), (26, 27, 'SEQUEL')
), both_ways(a, b, relation_type) AS (
  SELECT a, b, relation_type FROM listed
  UNION ALL
  SELECT b, a, CASE relation_type
                 WHEN 'SEQUEL' THEN 'PREQUEL'
                 WHEN 'SIDE_STORY' THEN 'FULL_STORY'
                 WHEN 'SUMMARY' THEN 'FULL_STORY'
                 WHEN 'SPIN_OFF' THEN 'OTHER'
                 ELSE relation_type
               END
  FROM listed
)
INSERT INTO anime_relation (anime_id, related_anime_id, relation_type)
SELECT ('de0a0000-0000-4000-8000-' || lpad(a::text, 12, '0'))::uuid,
       ('de0a0000-0000-4000-8000-' || lpad(b::text, 12, '0'))::uuid, relation_type
FROM both_ways
ON CONFLICT DO NOTHING;

-- Cowboy Bebop's 26 sessions (titles as broadcast in English).
INSERT INTO episode (id, anime_id, number, title, duration_seconds)
SELECT ('de0e0000-0000-4000-8000-' || lpad(number::text, 12, '0'))::uuid,
       'de0a0000-0000-4000-8000-000000000017', number, title, 1440
FROM unnest(ARRAY[
  'Asteroid Blues', 'Stray Dog Strut', 'Honky Tonk Women', 'Gateway Shuffle',
  'Ballad of Fallen Angels', 'Sympathy for the Devil', 'Heavy Metal Queen', 'Waltz for Venus',
  'Jamming with Edward', 'Ganymede Elegy', 'Toys in the Attic', 'Jupiter Jazz (Part 1)',
  'Jupiter Jazz (Part 2)', 'Bohemian Rhapsody', 'My Funny Valentine', 'Black Dog Serenade',
  'Mushroom Samba', 'Speak Like a Child', 'Wild Horses', 'Pierrot le Fou',
  'Boogie Woogie Feng Shui', 'Cowboy Funk', 'Brain Scratch', 'Hard Luck Woman',
  'The Real Folk Blues (Part 1)', 'The Real Folk Blues (Part 2)'
]) WITH ORDINALITY AS s(title, number)
ON CONFLICT DO NOTHING;

-- Replicas following the change feed (memory graphs, subscriptions, Qdrant sync) re-read the
-- catalogue after this commits (migration 0023).
SELECT announce_catalogue_load('demo-data');

COMMIT;
