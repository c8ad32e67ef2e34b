DROP TABLE federated_identities;
