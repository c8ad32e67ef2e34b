DROP TABLE saml_sp_keys;
