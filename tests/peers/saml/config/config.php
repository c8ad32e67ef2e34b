<?php
// SimpleSAMLphp's main configuration for the test IdP: everything that differs per run (base
// URL, scratch directories, secret salt) comes from the harness's peer.json.
require_once __DIR__ . '/../peer.php';
$peer = vestibule_saml_peer();
$state = $peer['state_dir'];

$config = [
    'baseurlpath' => $peer['base_url'],
    'certdir' => $state . '/cert/',
    'loggingdir' => $state . '/log/',
    'datadir' => $state . '/data/',
    'tempdir' => $state . '/tmp/',
    'metadatadir' => __DIR__ . '/../metadata/',
    'attributenamemapdir' => '/usr/share/simplesamlphp/attributemap/',

    'secretsalt' => $peer['secret_salt'],
    'auth.adminpassword' => $peer['secret_salt'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,
    'technicalcontact_name' => 'Vestibule tests',
    'technicalcontact_email' => 'tests@vestibule.test',
    'timezone' => 'UTC',

    // Any port on loopback may be a ReturnTo or RelayState target (the tests' SPs and RPs).
    'trusted.url.domains' => ['127\\.0\\.0\\.1(:[0-9]+)?', 'localhost(:[0-9]+)?'],
    'trusted.url.regex' => true,

    'debug' => ['saml' => true, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'production' => false,
    'logging.level' => SimpleSAML\Logger::DEBUG,
    'logging.handler' => 'stderr',
    'logging.processname' => 'saml-peer',
    'statistics.out' => [],

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,
    'module.enable' => [
        'exampleauth' => true,
        'core' => true,
        'saml' => true,
        'admin' => false,
    ],

    'session.duration' => 8 * 60 * 60,
    'session.datastore.timeout' => 4 * 60 * 60,
    'session.state.timeout' => 60 * 60,
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.cookie.lifetime' => 0,
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    // Plain HTTP on loopback: a Secure cookie would never come back, and SameSite=None needs
    // Secure in Chromium. The browser's default (Lax) goes along with top-level redirects.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.savepath' => $state . '/sessions',
    'session.phpsession.httponly' => true,
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken',
    'session.rememberme.enable' => false,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
    'language.available' => ['en'],
    'language.default' => 'en',
    'theme.use' => 'default',

    'metadata.sources' => [['type' => 'flatfile']],
    'metadata.sign.enable' => false,
    'store.type' => 'phpsession',
];
