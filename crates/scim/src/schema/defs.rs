//! Static attribute definitions: core User (RFC 7643 §4.1, §8.7.1), Enterprise User
//! (§4.3, §8.7.2), Group (§4.2, §8.7.1) and the common attributes (§3.1).
//! Descriptions are abridged from the RFC.

use super::{AttrDef, AttrType, Mutability, ResourceSchema, Returned, SchemaDef};
use crate::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

pub(crate) const fn attr(
    name: &'static str,
    attr_type: AttrType,
    description: &'static str,
) -> AttrDef {
    AttrDef {
        name,
        attr_type,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: "none",
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    attr(name, AttrType::Boolean, description)
}

const fn reference(
    name: &'static str,
    reference_types: &'static [&'static str],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        reference_types,
        ..attr(name, AttrType::Reference, description)
    }
}

const fn complex(
    name: &'static str,
    sub_attributes: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        sub_attributes,
        ..attr(name, AttrType::Complex, description)
    }
}

const fn multi(
    name: &'static str,
    sub_attributes: &'static [AttrDef],
    description: &'static str,
) -> AttrDef {
    AttrDef {
        multi_valued: true,
        ..complex(name, sub_attributes, description)
    }
}

const fn type_of(canonical_values: &'static [&'static str]) -> AttrDef {
    AttrDef {
        canonical_values,
        ..string("type", "A label indicating the attribute's function.")
    }
}

/// The `value` of a reference to another resource: that resource's `id`, which is
/// caseExact (RFC 7643 §3.1).
const fn id_reference(name: &'static str, description: &'static str) -> AttrDef {
    AttrDef {
        case_exact: true,
        ..string(name, description)
    }
}

const fn read_only(def: AttrDef) -> AttrDef {
    AttrDef {
        mutability: Mutability::ReadOnly,
        ..def
    }
}

const fn immutable(def: AttrDef) -> AttrDef {
    AttrDef {
        mutability: Mutability::Immutable,
        ..def
    }
}

const DISPLAY: AttrDef = string(
    "display",
    "A human-readable name, primarily used for display purposes.",
);
const PRIMARY: AttrDef = boolean(
    "primary",
    "A Boolean value indicating the 'primary' or preferred attribute value.",
);

// RFC 7643 §3.1 common attributes.
const ID: AttrDef = AttrDef {
    case_exact: true,
    mutability: Mutability::ReadOnly,
    returned: Returned::Always,
    uniqueness: "server",
    ..string(
        "id",
        "Unique identifier for the SCIM resource as defined by the service provider.",
    )
};
const EXTERNAL_ID: AttrDef = AttrDef {
    case_exact: true,
    ..string(
        "externalId",
        "Identifier for the resource as defined by the provisioning client.",
    )
};
const META: AttrDef = read_only(complex(
    "meta",
    &[
        AttrDef {
            case_exact: true,
            ..read_only(string(
                "resourceType",
                "The name of the resource type of the resource.",
            ))
        },
        read_only(attr(
            "created",
            AttrType::DateTime,
            "The DateTime that the resource was added.",
        )),
        read_only(attr(
            "lastModified",
            AttrType::DateTime,
            "The most recent DateTime that the details of this resource were updated.",
        )),
        AttrDef {
            case_exact: true,
            ..read_only(reference(
                "location",
                &["uri"],
                "The URI of the resource being returned.",
            ))
        },
        AttrDef {
            case_exact: true,
            ..read_only(string(
                "version",
                "The version (ETag) of the resource being returned.",
            ))
        },
    ],
    "Resource metadata.",
));

/// `schemas` is not an attribute of any schema, but filters may name it
/// (RFC 7644 §3.4.2.2 example `schemas eq "urn:…:enterprise:2.0:User"`).
pub(super) static SCHEMAS: AttrDef = AttrDef {
    multi_valued: true,
    returned: Returned::Always,
    ..read_only(reference(
        "schemas",
        &["uri"],
        "The schema URNs of the resource.",
    ))
};

static USER_ATTRIBUTES: [AttrDef; 24] = [
    ID,
    EXTERNAL_ID,
    META,
    AttrDef {
        required: true,
        uniqueness: "server",
        ..string(
            "userName",
            "Unique identifier for the User, typically used to authenticate.",
        )
    },
    complex(
        "name",
        &[
            string("formatted", "The full name, formatted for display."),
            string("familyName", "The family name of the User."),
            string("givenName", "The given name of the User."),
            string("middleName", "The middle name(s) of the User."),
            string("honorificPrefix", "The honorific prefix(es) of the User."),
            string("honorificSuffix", "The honorific suffix(es) of the User."),
        ],
        "The components of the user's real name.",
    ),
    string(
        "displayName",
        "The name of the User, suitable for display to end-users.",
    ),
    string(
        "nickName",
        "The casual way to address the user in real life.",
    ),
    reference(
        "profileUrl",
        &["external"],
        "A fully qualified URL pointing to the User's online profile.",
    ),
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "Identifies the relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    string(
        "locale",
        "The User's default location for localizing values.",
    ),
    string(
        "timezone",
        "The User's time zone in the 'Olson' time zone database format.",
    ),
    boolean(
        "active",
        "A Boolean value indicating the User's administrative status.",
    ),
    AttrDef {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..string("password", "The User's cleartext password, never returned.")
    },
    multi(
        "emails",
        &[
            string("value", "Email address for the User."),
            DISPLAY,
            type_of(&["work", "home", "other"]),
            PRIMARY,
        ],
        "Email addresses for the user.",
    ),
    multi(
        "phoneNumbers",
        &[
            string("value", "Phone number of the User."),
            DISPLAY,
            type_of(&["work", "home", "mobile", "fax", "pager", "other"]),
            PRIMARY,
        ],
        "Phone numbers for the User.",
    ),
    multi(
        "ims",
        &[
            string("value", "Instant messaging address for the User."),
            DISPLAY,
            type_of(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
            PRIMARY,
        ],
        "Instant messaging addresses for the User.",
    ),
    multi(
        "photos",
        &[
            reference("value", &["external"], "URL of a photo of the User."),
            DISPLAY,
            type_of(&["photo", "thumbnail"]),
            PRIMARY,
        ],
        "URLs of photos of the User.",
    ),
    multi(
        "addresses",
        &[
            string(
                "formatted",
                "The full mailing address, formatted for display.",
            ),
            string("streetAddress", "The full street address component."),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string("country", "The country name component."),
            type_of(&["work", "home", "other"]),
            PRIMARY,
        ],
        "A physical mailing address for this User.",
    ),
    read_only(multi(
        "groups",
        &[
            read_only(id_reference("value", "The identifier of the User's group.")),
            read_only(reference(
                "$ref",
                &["User", "Group"],
                "The URI of the Group resource.",
            )),
            read_only(string("display", "A human-readable name of the group.")),
            read_only(type_of(&["direct", "indirect"])),
        ],
        "A list of groups to which the user belongs.",
    )),
    multi(
        "entitlements",
        &[
            string("value", "The value of an entitlement."),
            DISPLAY,
            type_of(&[]),
            PRIMARY,
        ],
        "A list of entitlements for the User.",
    ),
    multi(
        "roles",
        &[
            string("value", "The value of a role."),
            DISPLAY,
            type_of(&[]),
            PRIMARY,
        ],
        "A list of roles for the User.",
    ),
    multi(
        "x509Certificates",
        &[
            attr(
                "value",
                AttrType::Binary,
                "The value of an X.509 certificate.",
            ),
            DISPLAY,
            type_of(&[]),
            PRIMARY,
        ],
        "A list of certificates issued to the User.",
    ),
];

static ENTERPRISE_ATTRIBUTES: [AttrDef; 6] = [
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex(
        "manager",
        &[
            id_reference(
                "value",
                "The id of the SCIM resource representing the User's manager.",
            ),
            reference(
                "$ref",
                &["User"],
                "The URI of the SCIM resource representing the User's manager.",
            ),
            read_only(string(
                "displayName",
                "The displayName of the User's manager.",
            )),
        ],
        "The User's manager.",
    ),
];

static GROUP_ATTRIBUTES: [AttrDef; 5] = [
    ID,
    EXTERNAL_ID,
    META,
    AttrDef {
        required: true,
        ..string("displayName", "A human-readable name for the Group.")
    },
    multi(
        "members",
        &[
            immutable(id_reference(
                "value",
                "Identifier of the member of this Group.",
            )),
            immutable(reference(
                "$ref",
                &["User", "Group"],
                "The URI of the member resource.",
            )),
            immutable(type_of(&["User", "Group"])),
            immutable(string("display", "A human-readable name of the member.")),
        ],
        "A list of members of the Group.",
    ),
];

static USER_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

static ENTERPRISE_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRIBUTES,
};

static GROUP_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

pub(super) static USER: ResourceSchema = ResourceSchema {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    core: &USER_SCHEMA_DEF,
    extensions: &[&ENTERPRISE_SCHEMA_DEF],
};

pub(super) static GROUP: ResourceSchema = ResourceSchema {
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    core: &GROUP_SCHEMA_DEF,
    extensions: &[],
};
