DROP TABLE service_accounts;
ALTER TABLE users DROP COLUMN kind;
