//! The server functions in the reference. Each is described by what the code already knows:
//! its path (`ServerFn::PATH`), its arguments (the struct the `#[server]` macro makes, which
//! derives `ToSchema` and carries the function's doc comment) and its answer (`Output`). The
//! list below names them; the reference's test compares it with the registry the router serves
//! from, so a server function missing here fails the test suite.

use super::{secured, Access};
use app::{
    archive, audit, auth, cameras, dossiers, events, faces, imports, photos, replication, site,
    sites, users, verdicts, watch_lists, webhooks,
};
use leptos::server_fn::ServerFn;
use utoipa::openapi::{
    path::{HttpMethod, Operation, OperationBuilder},
    request_body::RequestBodyBuilder,
    schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, Type},
    ContentBuilder, OpenApi, RefOr, ResponseBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// The first line the `#[server]` macro writes into every argument struct's documentation.
const MACRO_PREAMBLE: &str = "Serialized arguments for the";
const MACRO_PREAMBLE_END: &str = "server function.";

pub(super) fn add(doc: &mut OpenApi) {
    use Access::{Anyone, Member};
    json::<auth::Login>(doc, Anyone);
    json::<auth::Me>(doc, Anyone);
    json::<auth::Logout>(doc, Member);
    json::<auth::LogoutEverywhere>(doc, Member);
    json::<site::SiteInfo>(doc, Anyone);
    json::<watch_lists::ListWatchLists>(doc, Member);
    json::<watch_lists::ListWatchListLabels>(doc, Member);
    json::<watch_lists::GetWatchList>(doc, Member);
    json::<watch_lists::CreateWatchList>(doc, Member);
    json::<watch_lists::UpdateWatchList>(doc, Member);
    json::<watch_lists::RenameWatchList>(doc, Member);
    json::<watch_lists::CountExclusiveDossiers>(doc, Member);
    json::<watch_lists::DeleteWatchList>(doc, Member);
    json::<verdicts::ListCalibration>(doc, Member);
    json::<verdicts::ApplyThreshold>(doc, Member);
    json::<dossiers::SearchDossiers>(doc, Member);
    json::<dossiers::GetDossier>(doc, Member);
    json::<dossiers::CreateDossier>(doc, Member);
    json::<dossiers::UpdateDossier>(doc, Member);
    json::<dossiers::DeleteDossier>(doc, Member);
    json::<dossiers::DossierDeletable>(doc, Member);
    multipart::<photos::UploadPhoto>(
        doc,
        "Adds a photo to a dossier. The photo must show exactly one face (else 422 with `found`, \
         the faces' boxes, and the photo's `width` and `height`), unless a vector of this \
         installation's model is sent with it.",
        &[
            ("dossier_id", Field::Integer, "the dossier", true),
            (
                "image",
                Field::File,
                "the photo: JPEG, PNG, WebP or GIF",
                true,
            ),
            (
                "vector",
                Field::Text,
                "a JSON array of floats: the face's vector",
                false,
            ),
            ("model", Field::Text, "the model that made `vector`", false),
        ],
    );
    json::<photos::DeletePhoto>(doc, Member);
    multipart::<faces::SearchFaces>(
        doc,
        "Finds every face of a photo, largest first, each with its best matching dossiers.",
        &[
            ("image", Field::File, "the photo", true),
            (
                "watch_list",
                Field::Integer,
                "only this list's dossiers",
                false,
            ),
            (
                "min_confidence",
                Field::Number,
                "0 to 1; 0.5 when omitted",
                false,
            ),
            (
                "matches",
                Field::Integer,
                "dossiers per face, 1 to 50; 5 when omitted",
                false,
            ),
        ],
    );
    json::<faces::SearchedFaces>(doc, Member);
    json::<events::ListEvents>(doc, Member);
    json::<events::AcknowledgeEvent>(doc, Member);
    json::<events::AcknowledgeAllEvents>(doc, Member);
    json::<verdicts::JudgeEvent>(doc, Member);
    json::<verdicts::DossierVerdicts>(doc, Member);
    json::<archive::SimilarEvents>(doc, Member);
    multipart::<archive::EventsSimilarToPhoto>(
        doc,
        "Finds the events whose faces resemble the largest face of a photo, the closest first.",
        &[
            ("image", Field::File, "the photo", true),
            ("camera", Field::Text, "only this camera's events", false),
            (
                "site",
                Field::Text,
                "`here`, or a site's id: only its events",
                false,
            ),
            (
                "from",
                Field::Text,
                "RFC 3339 or `YYYY-MM-DDTHH:MM` (UTC); the oldest kept day when omitted",
                false,
            ),
            ("to", Field::Text, "likewise; now when omitted", false),
            (
                "min_confidence",
                Field::Number,
                "0 to 1; the installation's threshold when omitted",
                false,
            ),
            ("limit", Field::Integer, "1 to 500; 50 when omitted", false),
        ],
    );
    json::<webhooks::ListWebhooks>(doc, Member);
    json_answering::<webhooks::CreateWebhook>(doc, Member, id_and_secret(), Vec::new());
    json::<webhooks::DeleteWebhook>(doc, Member);
    json::<cameras::ListCameras>(doc, Member);
    json::<cameras::ReadCameraStatus>(doc, Member);
    json::<cameras::CreateCamera>(doc, Member);
    json::<cameras::UpdateCamera>(doc, Member);
    json::<cameras::DeleteCamera>(doc, Member);
    json::<users::ListUsers>(doc, Member);
    json::<users::CreateUser>(doc, Member);
    json::<users::SetUserGroup>(doc, Member);
    json::<users::SetUserActive>(doc, Member);
    json::<users::IssueApiToken>(doc, Member);
    json::<users::LoginLocks>(doc, Member);
    json::<users::ClearLoginLock>(doc, Member);
    json::<audit::AuditEntries>(doc, Member);
    multipart::<imports::UploadImport>(
        doc,
        "Imports a ZIP of people: one CSV (a row per person) and the photos it names. The \
         import runs in the background: follow it with `imports/get`; the rows it refuses, \
         each with its line and reason, are `imports/refusals` and `/imports/{id}/report.csv`.",
        &[
            ("file", Field::File, "the ZIP", true),
            (
                "create_lists",
                Field::Text,
                "`true`: create the lists the rows name that do not exist",
                false,
            ),
            ("list", Field::Text, "a list every row joins", false),
        ],
    );
    json::<imports::ListImports>(doc, Member);
    json::<imports::GetImport>(doc, Member);
    json::<imports::ImportRefusals>(doc, Member);
    json::<replication::ReplicationOverview>(doc, Member);
    json::<replication::LeaderLists>(doc, Member);
    json::<replication::CreateReplica>(doc, Member);
    json::<replication::ConfirmReplicaHold>(doc, Member);
    json::<replication::RejectReplicaHold>(doc, Member);
    json::<replication::SyncReplicaNow>(doc, Member);
    json::<replication::ReplicaProgress>(doc, Member);
    json::<replication::CancelReplica>(doc, Member);
    json::<sites::ListSites>(doc, Member);
    json::<sites::ListSiteLabels>(doc, Member);
    json::<sites::HitBacklog>(doc, Member);
}

/// A server function taking JSON (or the same fields form-encoded, as browsers send them).
fn json<F>(doc: &mut OpenApi, access: Access)
where
    F: ServerFn + ToSchema,
    F::Output: ToSchema,
{
    let mut schemas = Vec::new();
    F::Output::schemas(&mut schemas);
    json_answering::<F>(doc, access, F::Output::schema(), schemas);
}

/// A new webhook's answer: `[id, secret]`, the secret shown this once.
fn id_and_secret() -> RefOr<Schema> {
    ArrayBuilder::new()
        .prefix_items([
            Schema::from(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .description(Some("the webhook's id")),
            ),
            Schema::from(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("its secret")),
            ),
        ])
        .items(utoipa::openapi::schema::ArrayItems::False)
        .build()
        .into()
}

fn json_answering<F: ServerFn + ToSchema>(
    doc: &mut OpenApi,
    access: Access,
    answer: RefOr<Schema>,
    mut schemas: Vec<(String, RefOr<Schema>)>,
) {
    let mut arguments = F::schema();
    let description = take_description(&mut arguments);
    let body = RequestBodyBuilder::new()
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(arguments.clone()))
                .build(),
        )
        .content(
            "application/x-www-form-urlencoded",
            ContentBuilder::new().schema(Some(arguments)).build(),
        )
        .build();
    F::schemas(&mut schemas);
    let operation = operation::<F>(description, access).request_body(Some(body));
    insert::<F>(doc, operation, answer, schemas);
}

/// The kinds of multipart fields, as the reference shows them.
enum Field {
    File,
    Integer,
    Number,
    Text,
}

/// A server function taking a multipart form (a photo). Its argument struct is the raw
/// multipart body, which says nothing about its fields, so they are listed here.
fn multipart<F>(doc: &mut OpenApi, description: &str, fields: &[(&str, Field, &str, bool)])
where
    F: ServerFn,
    F::Output: ToSchema,
{
    let mut form = ObjectBuilder::new();
    for (name, kind, about, required) in fields {
        let schema = match kind {
            Field::File => ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("binary".into()))),
            Field::Integer => ObjectBuilder::new().schema_type(Type::Integer),
            Field::Number => ObjectBuilder::new().schema_type(Type::Number),
            Field::Text => ObjectBuilder::new().schema_type(Type::String),
        };
        form = form.property(*name, schema.description(Some(*about)));
        if *required {
            form = form.required(*name);
        }
    }
    let body = RequestBodyBuilder::new()
        .content(
            "multipart/form-data",
            ContentBuilder::new().schema(Some(form.build())).build(),
        )
        .build();
    let operation =
        operation::<F>(Some(description.to_string()), Access::Member).request_body(Some(body));
    let mut schemas = Vec::new();
    F::Output::schemas(&mut schemas);
    insert::<F>(doc, operation, F::Output::schema(), schemas);
}

fn operation<F: ServerFn>(description: Option<String>, access: Access) -> OperationBuilder {
    let endpoint = F::PATH.trim_start_matches("/api/");
    let tag = endpoint.split('/').next().unwrap_or(endpoint);
    let summary = description.as_deref().map(super::first_sentence);
    let operation = OperationBuilder::new()
        .operation_id(Some(endpoint.replace(['/', '-'], "_")))
        .tag(tag)
        .summary(summary)
        .description(description);
    secured(operation, access)
}

fn insert<F: ServerFn>(
    doc: &mut OpenApi,
    operation: OperationBuilder,
    answer: RefOr<Schema>,
    schemas: Vec<(String, RefOr<Schema>)>,
) {
    let answer = ResponseBuilder::new()
        .description("the answer")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(answer)).build(),
        )
        .build();
    let operation: Operation = operation.response("200", answer).build();
    doc.paths
        .add_path_operation(F::PATH, vec![HttpMethod::Post], operation);
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
}

/// Takes the doc comment off an argument struct's schema: it describes the function (less the
/// macro's preamble), not the body.
fn take_description(schema: &mut RefOr<Schema>) -> Option<String> {
    let RefOr::T(Schema::Object(object)) = schema else {
        return None;
    };
    let text = object.description.take()?;
    let text = match text.strip_prefix(MACRO_PREAMBLE) {
        // The preamble is one sentence; the function's own comment follows it.
        Some(rest) => rest
            .split_once(MACRO_PREAMBLE_END)
            .map(|(_, own)| own)
            .unwrap_or_default(),
        None => &text,
    };
    let text = super::unwrap_lines(text);
    (!text.is_empty()).then_some(text)
}
