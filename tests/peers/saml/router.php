<?php
// The router of PHP's built-in server for the test IdP: one endpoint of the harness's own,
// everything else served from SimpleSAMLphp's web root as without a router.
//
// GET /vestibule/sps: the entity IDs of the trusted SPs as SimpleSAMLphp loaded them (JSON), or
// the parse error (500), so the harness fails at start on SP metadata the IdP cannot read.
if (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) === '/vestibule/sps') {
    require_once '/usr/share/simplesamlphp/lib/_autoload.php';
    header('Content-Type: application/json');
    try {
        $handler = \SimpleSAML\Metadata\MetaDataStorageHandler::getMetadataHandler();
        echo json_encode(array_keys($handler->getList('saml20-sp-remote')));
    } catch (\Throwable $e) {
        http_response_code(500);
        echo json_encode(['error' => get_class($e) . ': ' . $e->getMessage()]);
    }
    return true;
}
return false;
