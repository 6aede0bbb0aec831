-- Failed sign-ins, counted per account and per address to throttle
-- password guessing; a success clears the account's.
CREATE TABLE sign_in_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX sign_in_failures_username ON sign_in_failures (username, failed_at);
CREATE INDEX sign_in_failures_address ON sign_in_failures (address, failed_at);
