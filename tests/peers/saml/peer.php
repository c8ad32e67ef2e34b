<?php
// The state the Rust harness (tests/suite/common/saml_peer.rs) wrote for this run: read once
// from $VESTIBULE_SAML_PEER_STATE/peer.json by config.php, authsources.php and the metadata
// files. Nothing here is shared between runs.

function vestibule_saml_peer(): array
{
    static $peer = null;
    if ($peer === null) {
        $dir = getenv('VESTIBULE_SAML_PEER_STATE');
        if ($dir === false || $dir === '') {
            throw new \Exception('VESTIBULE_SAML_PEER_STATE is not set: start the peer through the Rust harness');
        }
        $peer = json_decode(file_get_contents($dir . '/peer.json'), true, 64, JSON_THROW_ON_ERROR);
        $peer['state_dir'] = $dir;
    }
    return $peer;
}
