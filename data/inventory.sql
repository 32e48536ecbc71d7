-- The demo's inventory system: stock movements in SQLite, reached through
-- ODBC (libsqliteodbc), as many warehouse systems are.
DROP TABLE IF EXISTS stock_movements;
CREATE TABLE stock_movements (
    id        INTEGER PRIMARY KEY,
    sku       TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    qty       INTEGER NOT NULL,
    moved_at  TEXT NOT NULL
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
INSERT INTO stock_movements
SELECT i,
       'SKU-' || printf('%05d', (i * 37) % 900),
       CASE i % 3 WHEN 0 THEN 'Leeds' WHEN 1 THEN 'Kraków' ELSE 'Lyon' END,
       CASE WHEN i % 4 = 0 THEN -((i % 17) + 1) ELSE (i % 50) + 1 END,
       strftime('%Y-%m-%d %H:%M:%S', '2024-01-01 06:00:00', '+' || (i * 97) || ' minutes')
FROM n;
