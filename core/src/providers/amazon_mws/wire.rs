//! MWS XML answers, read with `quick-xml`'s streaming pull reader: no DOM of
//! the body is built, only the few fields the machine needs are kept.
//!
//! Rules from `shared/providers/amazon.md` §2.6: match local names (the
//! namespace drifted between `mws.amazonservices.com` and
//! `mws.amazonaws.com`), accept any child order, trim text, ignore unknown
//! elements. Bodies are bounded by the job's `max_api_body_bytes` before
//! they get here; depth and record counts are bounded here.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Deeper nesting than this is not an MWS answer.
const MAX_DEPTH: usize = 32;
/// More records than this in one answer are not read (MWS returns at most 100).
const MAX_RECORDS: usize = 1000;
/// Longest text of one field that is kept.
const MAX_TEXT: usize = 4096;

/// One `ReportRequestInfo` of RequestReport / GetReportRequestList.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RequestInfo {
    pub(crate) report_request_id: String,
    pub(crate) status: String,
    pub(crate) generated_report_id: Option<String>,
}

/// One `ReportInfo` of GetReportList.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ReportInfo {
    pub(crate) report_id: String,
    pub(crate) report_request_id: Option<String>,
}

/// An `ErrorResponse`: `Error/{Type, Code, Message}` and `RequestId`
/// (`RequestID` in the docs; both are read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ErrorInfo {
    pub(crate) kind: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) request_id: Option<String>,
}

/// What one pass over a document found: its root's local name and, for
/// every `record` element, the text of the wanted child fields.
struct Scan {
    root: String,
    records: Vec<Vec<Option<String>>>,
}

/// Reads `body` once; for each element called `record`, keeps the trimmed
/// text of its direct children named in `fields` (in `fields` order).
fn scan(body: &[u8], record: &str, fields: &[&str]) -> Result<Scan, String> {
    let mut reader = Reader::from_reader(body);
    let mut depth = 0usize;
    let mut root = None;
    let mut records = Vec::new();
    // The depth of the open record element, and the field being read.
    let mut open: Option<(usize, Vec<Option<String>>)> = None;
    let mut field: Option<(usize, String)> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(start) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                let name = start.local_name();
                let name = String::from_utf8_lossy(name.as_ref()).into_owned();
                if root.is_none() {
                    root = Some(name.clone());
                }
                match &open {
                    Some((at, _)) if depth == at + 1 => {
                        if let Some(index) = fields.iter().position(|f| *f == name) {
                            field = Some((index, String::new()));
                        }
                    }
                    None if name == record => {
                        if records.len() >= MAX_RECORDS {
                            return Err(format!("more than {MAX_RECORDS} {record} elements"));
                        }
                        open = Some((depth, vec![None; fields.len()]));
                    }
                    _ => {}
                }
            }
            Event::Empty(start) if root.is_none() => {
                root = Some(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Event::Text(text) => {
                if let Some((_, value)) = &mut field {
                    let text = text.decode().map_err(|e| format!("undecodable text: {e}"))?;
                    push_bounded(value, &text);
                }
            }
            Event::CData(text) => {
                if let Some((_, value)) = &mut field {
                    push_bounded(value, &String::from_utf8_lossy(&text));
                }
            }
            Event::GeneralRef(reference) => {
                if let Some((_, value)) = &mut field {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        _ => {
                            let name = reference.decode().map_err(|e| format!("undecodable entity: {e}"))?;
                            resolve_predefined_entity(&name)
                                .ok_or_else(|| format!("unknown entity &{name};"))?
                                .to_owned()
                        }
                    };
                    push_bounded(value, &resolved);
                }
            }
            Event::End(_) => {
                if let (Some((index, value)), Some((at, values))) = (field.take(), &mut open) {
                    if depth == *at + 1 {
                        let trimmed = value.trim();
                        if let Some(slot) = values.get_mut(index) {
                            *slot = (!trimmed.is_empty()).then(|| trimmed.to_owned());
                        }
                    }
                }
                if matches!(&open, Some((at, _)) if *at == depth) {
                    if let Some((_, values)) = open.take() {
                        records.push(values);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if depth != 0 {
        return Err("the document ends inside an element".to_owned());
    }
    let root = root.ok_or_else(|| "no XML element in the body".to_owned())?;
    Ok(Scan { root, records })
}

fn push_bounded(value: &mut String, text: &str) {
    if value.len() < MAX_TEXT {
        value.extend(text.chars().take(MAX_TEXT - value.len()));
    }
}

fn expect_root(scan: &Scan, root: &str) -> Result<(), String> {
    if scan.root == root {
        Ok(())
    } else {
        Err(format!("expected <{root}>, got <{}>", scan.root))
    }
}

/// The `ReportRequestInfo`s of a `{root}` answer (RequestReportResponse or
/// GetReportRequestListResponse). A record without an id or a status is
/// malformed.
pub(crate) fn request_infos(body: &[u8], root: &str) -> Result<Vec<RequestInfo>, String> {
    let scan = scan(
        body,
        "ReportRequestInfo",
        &["ReportRequestId", "ReportProcessingStatus", "GeneratedReportId"],
    )?;
    expect_root(&scan, root)?;
    scan.records
        .into_iter()
        .map(|mut values| {
            let mut take = |i: usize| values.get_mut(i).and_then(Option::take);
            let report_request_id = take(0).ok_or("a ReportRequestInfo without ReportRequestId")?;
            let status = take(1).ok_or("a ReportRequestInfo without ReportProcessingStatus")?;
            Ok(RequestInfo {
                report_request_id,
                status,
                generated_report_id: take(2),
            })
        })
        .collect()
}

/// The `ReportInfo`s of a GetReportListResponse.
pub(crate) fn report_infos(body: &[u8]) -> Result<Vec<ReportInfo>, String> {
    let scan = scan(body, "ReportInfo", &["ReportId", "ReportRequestId"])?;
    expect_root(&scan, "GetReportListResponse")?;
    scan.records
        .into_iter()
        .map(|mut values| {
            let mut take = |i: usize| values.get_mut(i).and_then(Option::take);
            Ok(ReportInfo {
                report_id: take(0).ok_or("a ReportInfo without ReportId")?,
                report_request_id: take(1),
            })
        })
        .collect()
}

/// The `ErrorResponse` in `body`, if it is one.
pub(crate) fn error_response(body: &[u8]) -> Option<ErrorInfo> {
    let error = scan(body, "Error", &["Type", "Code", "Message"]).ok()?;
    if error.root != "ErrorResponse" {
        return None;
    }
    let request = scan(body, "ErrorResponse", &["RequestId", "RequestID"]).ok()?;
    let mut info = ErrorInfo::default();
    if let Some(mut values) = error.records.into_iter().next() {
        let mut take = |i: usize| values.get_mut(i).and_then(Option::take);
        info.kind = take(0);
        info.code = take(1);
        info.message = take(2);
    }
    if let Some(values) = request.records.into_iter().next() {
        info.request_id = values.into_iter().flatten().next();
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! example {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/specs/amazon-mws/examples/",
                $name
            ))
            .as_slice()
        };
    }

    #[test]
    fn the_recorded_request_list_reads_with_shuffled_elements_and_the_live_namespace() {
        let infos = request_infos(
            example!("get-report-request-list-response.recorded.xml"),
            "GetReportRequestListResponse",
        )
        .unwrap();
        assert_eq!(infos.len(), 6);
        let no_data: Vec<_> = infos.iter().filter(|i| i.status == "_DONE_NO_DATA_").collect();
        assert!(!no_data.is_empty());
        assert!(no_data.iter().all(|i| i.generated_report_id.is_none()));
        assert!(infos
            .iter()
            .filter(|i| i.status == "_DONE_")
            .all(|i| i.generated_report_id.is_some()));
    }

    #[test]
    fn every_example_answer_reads() {
        let doc = request_infos(
            example!("get-report-request-list-response.doc-example.xml"),
            "GetReportRequestListResponse",
        )
        .unwrap();
        assert!(!doc.is_empty());
        for body in [
            example!("request-report-response.recorded.xml"),
            example!("request-report-response.doc-example.xml"),
        ] {
            let infos = request_infos(body, "RequestReportResponse").unwrap();
            assert_eq!(infos.len(), 1);
            assert_eq!(infos[0].status, "_SUBMITTED_");
        }
        for body in [
            example!("get-report-list-response.recorded.xml"),
            example!("get-report-list-response.doc-example.xml"),
        ] {
            let infos = report_infos(body).unwrap();
            assert!(!infos.is_empty());
            assert!(infos.iter().all(|i| i.report_id.bytes().all(|b| b.is_ascii_digit())));
        }
    }

    #[test]
    fn the_recorded_error_response_is_typed() {
        let error = error_response(example!("error-response-invalid-report-request-id.recorded.xml")).unwrap();
        assert_eq!(error.kind.as_deref(), Some("Sender"));
        assert_eq!(error.code.as_deref(), Some("InvalidReportRequestId"));
        assert!(error.message.is_some());
        assert!(error.request_id.is_some());
        let docs = error_response(
            b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code><Message>x &amp; y</Message></Error><RequestID>r</RequestID></ErrorResponse>",
        )
        .unwrap();
        assert_eq!(docs.message.as_deref(), Some("x & y"));
        assert_eq!(docs.request_id.as_deref(), Some("r"));
    }

    #[test]
    fn hostile_documents_are_errors_not_panics() {
        let deep = "<a>".repeat(100);
        for body in [&b""[..], b"<", b"<a><b></a>", deep.as_bytes(), b"<a>&bogus;</a>", b"\xff\xfe<a/>"] {
            assert!(request_infos(body, "RequestReportResponse").is_err(), "{body:?}");
            assert!(error_response(body).is_none());
        }
        assert!(request_infos(b"<GetReportListResponse/>", "RequestReportResponse").is_err());
        let missing = b"<RequestReportResponse><ReportRequestInfo><ReportRequestId>1</ReportRequestId></ReportRequestInfo></RequestReportResponse>";
        assert!(request_infos(missing, "RequestReportResponse").is_err());
    }
}
