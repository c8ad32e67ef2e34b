<?php
// One username/password login page (exampleauth:UserPass) with the users the harness
// configured; each user's attributes are released as given, plus the NameID value under
// `vestibule:nameid`, which saml20-idp-hosted.php turns into the NameID and then removes.
require_once __DIR__ . '/../peer.php';
$peer = vestibule_saml_peer();

$users = [];
foreach ($peer['users'] as $user) {
    $attributes = $user['attributes'];
    $attributes['vestibule:nameid'] = [$user['name_id']];
    $users[$user['username'] . ':' . $user['password']] = $attributes;
}

$config = [
    'admin' => ['core:AdminPassword'],
    'users' => array_merge(['exampleauth:UserPass'], $users),
];
