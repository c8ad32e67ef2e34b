DROP TABLE saml_logout_requests;
