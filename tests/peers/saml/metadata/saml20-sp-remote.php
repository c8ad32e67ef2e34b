<?php
// The SPs this IdP trusts: each one's metadata XML exactly as the harness was given it (for
// Vestibule, its `/broker/{alias}/endpoint/descriptor` output), parsed by SimpleSAMLphp's own
// SAMLParser, then the per-SP switches the test set (null: what the metadata implies).
require_once __DIR__ . '/../peer.php';
$peer = vestibule_saml_peer();

foreach ($peer['sps'] as $sp) {
    $xml = file_get_contents($peer['state_dir'] . '/' . $sp['metadata_file']);
    $entities = \SimpleSAML\Metadata\SAMLParser::parseDescriptorsString($xml);
    $found = 0;
    foreach ($entities as $entityId => $entity) {
        $parsed = $entity->getMetadata20SP();
        if ($parsed === null) {
            continue;
        }
        $found++;
        foreach ($sp['options'] as $key => $value) {
            if ($value !== null) {
                $parsed[$key] = $value;
            }
        }
        $metadata[$entityId] = $parsed;
    }
    // Loud, rather than an SP the IdP does not know: SAMLParser skips an SPSSODescriptor whose
    // protocolSupportEnumeration does not name SAML 2.0.
    if ($found === 0) {
        throw new \Exception($sp['metadata_file'] . ' holds no SAML 2.0 SPSSODescriptor');
    }
}
