"""REST adapter for the Twin-chat API (`docs/api/twin.md`).

Each route parses its typed request, calls one use case of `use_cases.twin` and shapes the
contract's response; service errors become `{"detail": ...}` in `server.errors`. When
TWIN_API_KEY is set every route needs a matching `X-API-Key` header (`server.twin.auth`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from graphs.focus_group.state import FocusGroupInput
from graphs.segment_survey.state import SurveyInput
from runtime.errors import ServiceError
from runtime.services import Services
from runtime.upstream import MODEL_FAILED
from server.errors import error_responses
from server.files import EXPORT_RESPONSES, file_response
from server.sse_frames import DONE, event
from server.twin.auth import caller_id
from server.twin.schemas import (
    ChatOut,
    ClusterOut,
    FidelityReportOut,
    FidelityRequest,
    FocusGroupOut,
    FocusGroupRequest,
    JobAcceptedOut,
    PersonaOut,
    QueryClustersRequest,
    RefinePersonasRequest,
    SegmentChoice,
    StartChatOut,
    SurveyOut,
    SurveyRequest,
    TwinChatRequest,
    TwinJobOut,
)
from use_cases.portable.files import ExportFormat
from use_cases.twin import chat as twin_chat
from use_cases.twin import fidelity_run, routing
from use_cases.twin import focus_group as twin_focus_group
from use_cases.twin import jobs as twin_jobs
from use_cases.twin import survey as twin_survey
from use_cases.twin import transfer as twin_transfer

router = APIRouter(dependencies=[Depends(caller_id)])
log = logging.getLogger(__name__)

KEYED = (401,)  # when TWIN_API_KEY is set


def _services(request: Request) -> Services:
    return request.app.state.services


def _router_graph(request: Request) -> routing.RouterGraph:
    return request.app.state.graphs["cluster_router"]


def _chat_graph(request: Request) -> twin_chat.ChatGraph:
    return request.app.state.graphs["persona_chat"]


@router.post("/query_clusters", response_model=list[ClusterOut], responses=error_responses(*KEYED))
async def query_clusters(body: QueryClustersRequest, request: Request) -> list[ClusterOut]:
    clusters = await routing.find_clusters(
        _services(request), _router_graph(request), body.query, body.top_k, body.min_similarity
    )
    return [ClusterOut.of(c) for c in clusters]


@router.get("/cluster/{cluster_id}/personas", response_model=list[PersonaOut], responses=error_responses(*KEYED, 404))
async def list_cluster_personas(request: Request, cluster_id: int = Path(...)) -> list[PersonaOut]:
    return [PersonaOut.of_row(p) for p in await routing.list_personas(_services(request).pool, cluster_id)]


@router.post(
    "/cluster/{cluster_id}/refine_personas", response_model=list[PersonaOut], responses=error_responses(*KEYED, 404)
)
async def refine_personas(
    body: RefinePersonasRequest, request: Request, cluster_id: int = Path(...)
) -> list[PersonaOut]:
    personas = await routing.refine_personas(
        _services(request), _router_graph(request), cluster_id, body.query, body.top_k
    )
    return [PersonaOut.of_match(p) for p in personas]


@router.get("/persona/{persona_id}/start_chat", response_model=StartChatOut, responses=error_responses(*KEYED, 404))
async def start_chat(request: Request, persona_id: int = Path(...)) -> StartChatOut:
    return StartChatOut.of(await routing.greet(_services(request), _router_graph(request), persona_id))


@router.post(
    "/persona/{persona_id}/chat",
    response_model=ChatOut,
    response_model_exclude_none=True,
    responses=error_responses(*KEYED, 404, 502),
)
async def chat(
    body: TwinChatRequest, request: Request, persona_id: int = Path(...), caller: str = Depends(caller_id)
) -> ChatOut:
    turn = await twin_chat.chat_turn(
        _services(request), _chat_graph(request), caller, persona_id, body.message, body.session_id
    )
    return ChatOut(persona_id=turn.persona_id, reply=turn.reply, session_id=turn.session_id)


@router.get(
    "/persona/{persona_id}/export",
    response_class=Response,
    responses={**EXPORT_RESPONSES, **error_responses(*KEYED, 404, 422)},
)
async def export_persona(
    request: Request,
    persona_id: int = Path(...),
    format: ExportFormat = Query("card_v2", description="card_v2, png or bundle"),
) -> Response:
    """A twin as a Character Card V2 (JSON or PNG), or a bundle of its versions."""
    return file_response(await twin_transfer.export_persona(_services(request).pool, persona_id, format))


def _wants_job(async_: bool, request: Request) -> bool:
    """`"async": true` in the body, or `Prefer: respond-async` (RFC 7240) among the preferences."""
    if async_:
        return True
    for header in request.headers.getlist("prefer"):
        for preference in header.split(","):
            if preference.split(";")[0].split("=")[0].strip().lower() == "respond-async":
                return True
    return False


async def _accept_job(body: SegmentChoice, request: Request, caller: str, kind: twin_jobs.JobKind) -> JSONResponse:
    """Check what can be checked now (unknown clusters are 404s here, not a failed job later),
    queue the job and answer 202 with where to follow it."""
    services = _services(request)
    for cluster_id in body.cluster_ids or []:
        await routing.require_cluster(services.pool, cluster_id)
    row = await twin_jobs.submit_job(
        services, kind=kind, caller=caller, request=body.run_fields(), model=services.settings.chat_model
    )
    return _accepted(request, row)


def _accepted(request: Request, row: twin_jobs.TwinJobRow) -> JSONResponse:
    """202 with where to follow the job."""
    status_url = request.url_for("twin_job_status", job_id=str(row["id"])).path
    accepted = JobAcceptedOut(job_id=str(row["id"]), status_url=status_url, state=row["state"])
    return JSONResponse(
        status_code=202,
        content=accepted.model_dump(),
        headers={"Location": status_url, "Preference-Applied": "respond-async"},
    )


_JOB_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": JobAcceptedOut, "description": "Accepted as a job (`async` or `Prefer: respond-async`)"}
}


@router.post("/survey", response_model=SurveyOut, responses={**_JOB_ACCEPTED, **error_responses(*KEYED, 404, 502)})
async def survey(body: SurveyRequest, request: Request, caller: str = Depends(caller_id)) -> Any:
    """Ask the personas of some clusters one closed question; each picks exactly one option.

    `distribution` weights each persona by the share of its cluster's records it stands for
    (`weighting`: raked to every split the cluster stores, or its gender and age band cell
    alone); `ci95` is a Wilson interval on the effective number of personas. With `"async": true`
    (or `Prefer: respond-async`) it runs as a job: 202 and a status URL."""
    if _wants_job(body.async_, request):
        return await _accept_job(body, request, caller, "survey")
    survey = body.run_fields()
    method = survey.pop("method")
    result = await twin_survey.run_survey(
        _services(request),
        request.app.state.graphs["segment_survey"],
        cast("SurveyInput", survey),
        _services(request).settings.chat_model,
        method=method,
    )
    return SurveyOut.model_validate(result)


async def _focus_group_stream(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """Every event as a `data:` line, an `error` event when the run fails, then `data: [DONE]`."""
    try:
        async for item in events:
            yield event(item)
    except ServiceError as exc:
        yield event({"type": "error", "detail": exc.detail})
    except Exception:
        log.exception("focus group stream failed")
        yield event({"type": "error", "detail": MODEL_FAILED})
    yield DONE


@router.post(
    "/focus_group",
    response_model=FocusGroupOut,
    responses={
        **error_responses(*KEYED, 404, 502),
        200: {
            "description": "The focus group; with `stream: true` an event stream of `data: {json}` lines "
            "(`progress`, `response`, `result`, `error`) ending `data: [DONE]`.",
            "content": {"text/event-stream": {}},
        },
        **_JOB_ACCEPTED,
    },
)
async def focus_group(body: FocusGroupRequest, request: Request, caller: str = Depends(caller_id)) -> Any:
    """Ask the most representative personas of some clusters an open question; each answers in
    character, then the answers are grouped into themes, each with a verbatim quote. With
    `"async": true` (or `Prefer: respond-async`) it runs as a job: 202 and a status URL."""
    if _wants_job(body.async_, request) and not body.stream:
        return await _accept_job(body, request, caller, "focus_group")
    graph = request.app.state.graphs["focus_group"]
    model = _services(request).settings.chat_model
    run = cast("FocusGroupInput", body.run_fields())
    if not body.stream:
        return FocusGroupOut.model_validate(
            await twin_focus_group.run_focus_group(_services(request), graph, run, model)
        )
    for cluster_id in body.cluster_ids or []:  # an unknown cluster is a 404 before the stream starts
        await routing.require_cluster(_services(request).pool, cluster_id)
    return StreamingResponse(
        _focus_group_stream(twin_focus_group.focus_group_events(_services(request), graph, run, model)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/fidelity",
    response_model=FidelityReportOut,
    responses={**_JOB_ACCEPTED, **error_responses(*KEYED, 400, 413, 502)},
)
async def fidelity(body: FidelityRequest, request: Request, caller: str = Depends(caller_id)) -> Any:
    """How faithful twins built from a table are to their people (`personas twin validate`): twins
    are built from `records_csv` without the `hold_out` columns, each is asked those columns'
    questions, and the answers are compared per cluster with the records and the baselines. The
    stored twins are not touched. A bad table, schema or hold-out column is a 400 that names it,
    before anything runs. With `"async": true` (or `Prefer: respond-async`) it runs as a job:
    202 and a status URL; `GET {status_url}/report` then gives the report as an HTML page."""
    services = _services(request)
    run = await fidelity_run.check_request(body.records_csv, body.schema_, body.clusters, body.hold_out, body.seed)
    model = services.settings.chat_model
    if _wants_job(body.async_, request):
        row = await twin_jobs.submit_job(
            services,
            kind="fidelity",
            caller=caller,
            request=run.job_request(),
            model=model,
            records_csv=body.records_csv,
        )
        return _accepted(request, row)
    report = await fidelity_run.run_fidelity(
        run, model, settings=services.settings, embeddings=services.require_embeddings()
    )
    return FidelityReportOut.model_validate(report)


@router.get(
    "/jobs/{job_id}",
    name="twin_job_status",
    response_model=TwinJobOut,
    responses=error_responses(*KEYED, 404),
)
async def job_status(request: Request, job_id: str = Path(...), caller: str = Depends(caller_id)) -> TwinJobOut:
    """A survey, focus-group or fidelity job: state, progress (respondents answered out of those
    selected; twins asked out of the questions to ask), times, the error when it failed and the
    result (the synchronous call's body) when it succeeded."""
    return TwinJobOut.of(await twin_jobs.job_status(_services(request), job_id, caller))


@router.delete(
    "/jobs/{job_id}",
    response_model=TwinJobOut,
    responses=error_responses(*KEYED, 404, 409),
)
async def cancel_job(request: Request, job_id: str = Path(...), caller: str = Depends(caller_id)) -> TwinJobOut:
    """Cancel a job: a queued one never runs, a running one stops its model calls. A job that has
    already succeeded or failed is a 409."""
    return TwinJobOut.of(await twin_jobs.cancel_job(_services(request), job_id, caller))


@router.get(
    "/jobs/{job_id}/report",
    response_class=Response,
    responses={
        200: {"description": "The report page.", "content": {"text/html": {"schema": {"type": "string"}}}},
        **error_responses(*KEYED, 404, 409),
    },
)
async def fidelity_job_report(
    request: Request, job_id: str = Path(...), caller: str = Depends(caller_id)
) -> HTMLResponse:
    """A succeeded fidelity job's report as one self-contained HTML page (a table and a chart per
    held-out question); 409 for another kind of job or one that has not succeeded."""
    return HTMLResponse(await twin_jobs.fidelity_report_html(_services(request), job_id, caller))
