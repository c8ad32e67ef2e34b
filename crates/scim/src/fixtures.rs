//! Test fixtures shared by the module tests: the RFC 7643 §8.3 Enterprise User
//! (the §8.2 full User plus the enterprise extension), a small Group, and a `Badge`
//! resource type with the RFC 7643 §2.3 data types the standard schemas never use.

use serde_json::{json, Value};

use crate::schema::{attr, AttrDef, AttrType, Mutability, ResourceSchema, Returned, SchemaDef};

const fn badge_attr(name: &'static str, attr_type: AttrType, multi_valued: bool) -> AttrDef {
    AttrDef {
        multi_valued,
        ..attr(name, attr_type, "A Badge attribute for tests.")
    }
}

static BADGE_ATTRIBUTES: [AttrDef; 6] = [
    // RFC 7643 §2.3.4 integer.
    badge_attr("number", AttrType::Integer, false),
    // writeOnly but not declared `returned: never`, and the other way round (RFC 7643 §7:
    // either one keeps it out of responses).
    AttrDef {
        mutability: Mutability::WriteOnly,
        ..badge_attr("pin", AttrType::String, false)
    },
    AttrDef {
        returned: Returned::Never,
        ..badge_attr("secret", AttrType::String, false)
    },
    // RFC 7643 §2.3.3 decimal.
    badge_attr("weight", AttrType::Decimal, false),
    // A multi-valued simple attribute (RFC 7643 §2.4 without sub-attributes).
    badge_attr("tags", AttrType::String, true),
    badge_attr("doors", AttrType::Integer, true),
];

static BADGE_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: "urn:example:params:scim:schemas:core:2.0:Badge",
    name: "Badge",
    description: "Badge",
    attributes: &BADGE_ATTRIBUTES,
};

/// A resource type of our own with integer, decimal and simple multi-valued attributes, and
/// characteristics combined as the User and Group schemas (RFC 7643 §4) never do.
pub(crate) static BADGE: ResourceSchema = ResourceSchema {
    name: "Badge",
    endpoint: "/Badges",
    description: "Badge",
    core: &BADGE_SCHEMA_DEF,
    extensions: &[],
};

/// The `Badge` attribute `name`.
pub(crate) fn badge_def(name: &str) -> &'static AttrDef {
    BADGE.resolve(None, name).expect(name).1
}

/// RFC 7643 §8.3, with `password` as in §8.2 and `meta.version` unescaped.
pub(crate) fn bjensen() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "Jane",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [
            {
                "streetAddress": "100 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA",
                "type": "work",
                "primary": true
            },
            {
                "streetAddress": "456 Hollywood Blvd",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA",
                "type": "home"
            }
        ],
        "phoneNumbers": [
            {"value": "555-555-5555", "type": "work"},
            {"value": "555-555-4444", "type": "mobile"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
            {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}
        ],
        "userType": "Employee",
        "title": "Tour Guide",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "password": "t1meMa$heen",
        "groups": [
            {
                "value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
                "display": "Tour Guides"
            },
            {
                "value": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
                "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5",
                "display": "Employees"
            }
        ],
        "x509Certificates": [
            {"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        }
    })
}

/// RFC 7643 §8.4 Group, trimmed to two members.
pub(crate) fn tour_guides() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Tour Guides",
        "members": [
            {
                "value": "2819c223-7f76-453a-919d-413861904646",
                "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                "display": "Babs Jensen"
            },
            {
                "value": "902c246b-6245-4190-8e05-00816be7344a",
                "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a",
                "display": "Mandy Pepperidge"
            }
        ],
        "meta": {
            "resourceType": "Group",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "version": "W/\"3694e05e9dff592\"",
            "location": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a"
        }
    })
}
