DROP TABLE assessment_units;
DROP TABLE assessment_instruments;
DROP TABLE assessments;
DROP TABLE platform_policy;
