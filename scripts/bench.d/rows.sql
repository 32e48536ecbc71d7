-- rows.sql - the benchmark's rows: one SELECT over generate_series, the
-- same on every run (no random()), with psql variable :rows as the count.
-- scripts/bench loads it into the source table and, with :rows replaced,
-- uses it as the source query of the memory-scaling runs.
--
-- Eight columns of mixed types, with NULLs in six of them; names carry
-- UTF-8, single and double quotes, a backslash, a comma, and embedded tabs
-- and newlines, so every text and CSV escape is exercised; some names have
-- spaces around them for trim().  Lines starting with "--" are comments.
SELECT i AS id,
 CASE i % 8
  WHEN 0 THEN '  Zoë O''Brien ' || i || '  '
  WHEN 1 THEN 'Łukasz "Luke" Wróbel ' || i
  WHEN 2 THEN E'Anne-Marie\tDupont ' || i
  WHEN 3 THEN E'José\nMaría Núñez ' || i
  WHEN 4 THEN '山田 太郎 ' || i
  WHEN 5 THEN E'C:\\Users\\back slash ' || i
  WHEN 6 THEN 'Smith, John ' || i
  ELSE 'Ólafur Ragnarsson ' || i
 END AS name,
 CASE WHEN i % 10 = 0 THEN NULL
  ELSE ' User.' || i || '@Example.' || (ARRAY['COM', 'de', 'fr', 'co.uk', 'NL', 'io', 'es'])[i % 7 + 1]
 END AS email,
 CASE WHEN i % 13 = 0 THEN NULL ELSE ((i * 7919) % 100000 - 5000)::integer END AS qty,
 CASE WHEN i % 17 = 0 THEN NULL ELSE round(((i * 104729) % 10000000) / 100.0 - 20000, 2)::numeric(12,2) END AS amount,
 timestamptz '2020-01-01 00:00:00+00' + i * interval '37 seconds' + (i % 1000) * interval '1 microsecond' AS created_at,
 CASE i % 3 WHEN 0 THEN true WHEN 1 THEN false END AS active,
 CASE WHEN i % 11 = 0 THEN NULL ELSE date '1950-01-01' + ((i * 31) % 25000)::integer END AS born
FROM generate_series(1::bigint, :rows) AS i
