//! `GET /api/v1/endpoints` (each target's health) and `POST
//! /api/v1/targets/{name}/pause|resume|probe` (the on-call controls), each answered with the
//! target's health after the change.

use super::extract::ApiPath;
use super::{ApiError, ApiState};
use crate::model::TargetControl;
use crate::relay::{ControlError, HealthReport};
use axum::Json;
use axum::extract::State;

pub async fn endpoints(State(state): State<ApiState>) -> Json<Vec<HealthReport>> {
    Json(state.relay.health().await)
}

pub async fn pause(
    state: State<ApiState>,
    name: ApiPath<String>,
) -> Result<Json<HealthReport>, ApiError> {
    control(state, name, TargetControl::Pause).await
}

pub async fn resume(
    state: State<ApiState>,
    name: ApiPath<String>,
) -> Result<Json<HealthReport>, ApiError> {
    control(state, name, TargetControl::Resume).await
}

pub async fn probe(
    state: State<ApiState>,
    name: ApiPath<String>,
) -> Result<Json<HealthReport>, ApiError> {
    control(state, name, TargetControl::Probe).await
}

async fn control(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    action: TargetControl,
) -> Result<Json<HealthReport>, ApiError> {
    match state.relay.control(&name, action, "api").await {
        Ok(report) => Ok(Json(report)),
        Err(ControlError::UnknownTarget(name)) => Err(ApiError::NotFound(format!(
            "no target named {name:?} is configured"
        ))),
        Err(ControlError::Store(e)) => Err(ApiError::Store(e)),
        Err(ControlError::Stopped) => Err(ApiError::Unavailable("the relay has stopped".into())),
    }
}
