-- The demo's ERP: customers of a PostgreSQL-backed ERP, a few thousand
-- deterministic rows with the mess real systems have (padding, mixed-case
-- e-mail addresses, NULLs, deleted rows, non-ASCII names).
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
    id           integer PRIMARY KEY,
    name         text NOT NULL,
    email        text,
    country_code char(2),
    status       text NOT NULL DEFAULT 'active',
    created_at   date NOT NULL,
    updated_at   timestamptz NOT NULL
);

INSERT INTO customers
SELECT i,
       (ARRAY['  Anna ', 'Björn', 'Chloé', 'Dmitri', 'Eilidh', 'François',
              'Grzegorz', 'Hana', 'Ígor', 'José', 'Kenji', 'Łucja'])[1 + i % 12]
       || ' ' ||
       (ARRAY['Smith', 'Müller', 'O''Brien', 'García', 'Nowak', 'Rossi',
              'Tanaka', 'Dubois', 'Jensen', 'Kowalski'])[1 + (i / 12) % 10],
       CASE WHEN i % 17 = 0 THEN NULL
            WHEN i % 5 = 0 THEN '  Customer' || i || '@Example.COM '
            ELSE 'customer' || i || '@example.com' END,
       (ARRAY['GB', 'DE', 'FR', 'PL', 'es', 'JP', NULL, 'ie'])[1 + i % 8],
       CASE WHEN i % 50 = 0 THEN 'deleted' ELSE 'active' END,
       date '2015-01-01' + (i * 37 % 3650),
       timestamptz '2025-01-01 00:00:00+00' + make_interval(mins => i * 7)
FROM generate_series(1, 4000) AS i;

-- Orders of those customers: a few per customer over two years.
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    ordered_at  timestamptz NOT NULL,
    total       numeric(12,2) NOT NULL,
    status      text NOT NULL
);

INSERT INTO orders
SELECT o, 1 + (o * 7919) % 4000,
       timestamptz '2024-01-01 08:00:00+00' + make_interval(mins => o * 53),
       round(((o * 104729) % 50000) / 100.0 + 5, 2),
       (ARRAY['paid', 'shipped', 'delivered', 'refunded'])[1 + o % 4]
FROM generate_series(1, 12000) AS o;
