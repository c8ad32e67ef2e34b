DROP TABLE mapper_grants;
DROP TABLE broker_sessions;
DROP TABLE broker_requests;
