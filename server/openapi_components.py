"""Schema components settings append to the OpenAPI document (SPECTACULAR_SETTINGS
"APPEND_COMPONENTS"); no imports, so that settings can load it."""

FIELD_ERRORS_REF = "#/components/schemas/FieldErrors"

# Each invalid field's messages (a message, or a list of them), nested as the body is (a
# nested object's fields, a list's items); appended to the components by SPECTACULAR_SETTINGS["APPEND_COMPONENTS"].
FIELD_ERRORS_COMPONENT = {
    "FieldErrors": {
        "type": "object",
        "additionalProperties": {
            "oneOf": [
                {"type": "string"},
                {"type": "array", "items": {"oneOf": [{"type": "string"}, {"$ref": FIELD_ERRORS_REF}]}},
                {"$ref": FIELD_ERRORS_REF},
            ]
        },
    }
}
