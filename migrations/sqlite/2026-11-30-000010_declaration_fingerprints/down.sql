DROP TABLE declaration_fingerprints;
