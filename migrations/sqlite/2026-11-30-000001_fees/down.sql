DROP TABLE statement_charges;
DROP TABLE statements;
DROP TABLE charges;
DROP TABLE subsidy_grants;
DROP TABLE subsidy_programmes;
DROP TABLE fee_standards;
DROP TABLE user_tags;
