DROP TABLE assessment_units;
DROP TABLE assessment_instruments;
DROP TABLE assessments;
DROP FUNCTION assessments_frozen;
DROP TABLE platform_policy;
