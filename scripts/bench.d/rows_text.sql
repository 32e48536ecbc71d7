-- rows_text.sql - the text-heavy table: eight columns, six of them text
-- (first and last names, an e-mail, a city, a note of 40 to 160
-- characters), an amount and a timestamp; NULLs in four; UTF-8, quotes,
-- tabs and newlines in names and notes.  The same on every run (no
-- random()), with psql variable :rows as the count.  Lines starting with
-- "--" are comments.
SELECT i AS id,
 (ARRAY['Zoë', 'Łukasz', 'Anne-Marie', 'José', '太郎', 'O''Brien', 'Jean Luc', 'Ólafur'])[i % 8 + 1] AS first_name,
 CASE i % 6 WHEN 0 THEN E'Dupont\tDurand ' || i WHEN 1 THEN 'Wróbel-' || i
  ELSE 'Smith ' || i END AS last_name,
 CASE WHEN i % 10 = 0 THEN NULL ELSE ' User.' || i || '@Example.' || (ARRAY['COM', 'de', 'fr', 'co.uk'])[i % 4 + 1] END AS email,
 CASE WHEN i % 9 = 0 THEN NULL ELSE (ARRAY['London', 'Kraków', 'São Paulo', 'Zürich', 'New York', '東京'])[i % 6 + 1] END AS city,
 CASE WHEN i % 7 = 0 THEN NULL
  ELSE left(repeat(E'Called about order ' || i || E'; "urgent",\nback\\slash. ', (1 + i % 5)::int), (40 + i % 121)::int) END AS note,
 CASE WHEN i % 17 = 0 THEN NULL ELSE round(((i * 104729) % 10000000) / 100.0 - 20000, 2)::numeric(12,2) END AS amount,
 timestamptz '2020-01-01 00:00:00+00' + i * interval '37 seconds' AS created_at
FROM generate_series(1::bigint, :rows) AS i
