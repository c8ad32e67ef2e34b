DROP TABLE client_scopes;
