-- Runs once, when the postgres container initialises its volume: the `warehouse` database the example
-- definitions read (connection `demo_db`), with the same rows as the SQLite database of dev/demo.sh.
CREATE DATABASE warehouse OWNER airflow;
\connect warehouse
CREATE TABLE sales (id integer PRIMARY KEY, day date, region text, product text, amount numeric(10, 2));
INSERT INTO sales VALUES
    (1, '2024-01-05', 'EU', 'Widget', 29.97),
    (2, '2024-01-06', 'US', 'Gadget', 49.90),
    (3, '2024-01-06', 'EU', 'Gizmo', 17.50),
    (4, '2024-01-07', 'US', 'Widget', 19.98),
    (5, '2024-01-08', 'EU', 'Gadget', 249.50);
ALTER TABLE sales OWNER TO airflow;
