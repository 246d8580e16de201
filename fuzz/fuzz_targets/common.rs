// Not every target uses every helper.
#![allow(dead_code)]

// Shared by the provider targets (`mod common;`): the input layout and the status table.

/// HTTP statuses worth reaching: every documented one, their neighbours, and the edges.
const STATUSES: &[u16] = &[
    200, 200, 200, 200, 201, 202, 204, 299, 100, 300, 301, 304, 400, 401, 403, 404, 409, 410, 422,
    429, 499, 500, 502, 503, 504, 599, 600, 0,
];

/// The input's layout: an operation byte, a status byte (an index into the table), the body.
pub struct Answer<'a> {
    pub op: u8,
    pub status: u16,
    pub body: &'a [u8],
}

impl<'a> Answer<'a> {
    pub fn read(data: &'a [u8]) -> Option<Self> {
        let [op, status, body @ ..] = data else {
            return None;
        };
        Some(Self {
            op: *op,
            status: STATUSES[usize::from(*status) % STATUSES.len()],
            body,
        })
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as a JSON object, if it is one.
    pub fn object(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::from_slice(self.body) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        }
    }
}
