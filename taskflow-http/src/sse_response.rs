//! The `GET /events` response: poem's Server-Sent Events framing ([`sse::Event`]) written
//! into the body frame by frame.
//!
//! poem's own SSE response turns its frames into an `AsyncRead` and reads them back into
//! the body through a 4 KiB buffer that every open stream keeps (20 MiB at 5,000 streams),
//! copying each frame once more on the way. [`SseResponse`] hands the frames to the body as
//! they are, with the same headers and heartbeat, and is documented in OpenAPI exactly as
//! poem-openapi's [`EventStream`] documents it.

use std::marker::PhantomData;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use poem::web::sse;
use poem::{Body, IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::EventStream;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::types::{ToJSON, Type};

/// A stream of Server-Sent Events whose items are documented as `T`, with a comment frame
/// every `heartbeat` so that proxies keep an idle stream open.
pub struct SseResponse<T> {
    frames: BoxStream<'static, sse::Event>,
    heartbeat: Duration,
    item: PhantomData<fn() -> T>,
}

impl<T> SseResponse<T> {
    /// The response for `frames`, each already framed as a [`sse::Event`].
    pub fn new(
        frames: impl Stream<Item = sse::Event> + Send + 'static,
        heartbeat: Duration,
    ) -> Self {
        Self {
            frames: frames.boxed(),
            heartbeat,
            item: PhantomData,
        }
    }
}

impl<T> IntoResponse for SseResponse<T> {
    fn into_response(self) -> Response {
        let comment = Bytes::from_static(b":\n\n");
        let start = tokio::time::Instant::now() + self.heartbeat;
        let mut heartbeat = tokio::time::interval_at(start, self.heartbeat);
        let mut frames = self.frames.map(|event| Bytes::from(event.to_string()));
        let body = futures_util::stream::poll_fn(move |cx| {
            if let Poll::Ready(frame) = frames.poll_next_unpin(cx) {
                return Poll::Ready(frame.map(Ok::<_, std::io::Error>));
            }
            heartbeat.poll_tick(cx).map(|_| Some(Ok(comment.clone())))
        });
        Response::builder()
            .content_type("text/event-stream")
            .header("X-Accel-Buffering", "no")
            .header("Cache-Control", "no-cache")
            .body(Body::from_bytes_stream(body))
    }
}

impl<T: Type + ToJSON + Send + 'static> ApiResponse for SseResponse<T> {
    fn meta() -> MetaResponses {
        <EventStream<BoxStream<'static, T>> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        <EventStream<BoxStream<'static, T>> as ApiResponse>::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize) -> impl Stream<Item = sse::Event> + Send + 'static {
        futures_util::stream::iter((1..=n).map(|i| {
            sse::Event::message(format!("{{\"n\":{i}}}"))
                .id(i.to_string())
                .event_type("task.created")
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn frames_go_out_as_poem_frames_them_with_heartbeats_between() {
        let beat = Duration::from_secs(15);
        let response =
            SseResponse::<String>::new(frames(2).chain(futures_util::stream::pending()), beat)
                .into_response();
        assert_eq!(response.content_type(), Some("text/event-stream"));
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        let mut body = response.into_body().into_bytes_stream();
        for i in 1..=2 {
            let frame = body.next().await.unwrap().unwrap();
            let expected = sse::Event::message(format!("{{\"n\":{i}}}"))
                .id(i.to_string())
                .event_type("task.created")
                .to_string();
            assert_eq!(frame, expected);
            assert!(expected.starts_with(&format!("id: {i}\n")), "{expected:?}");
        }
        let before = tokio::time::Instant::now();
        let heartbeat = body.next().await.unwrap().unwrap();
        assert_eq!(&heartbeat[..], b":\n\n");
        assert_eq!(
            before.elapsed(),
            beat,
            "the first heartbeat comes one period in"
        );
        let next = body.next().await.unwrap().unwrap();
        assert_eq!(&next[..], b":\n\n");
        assert_eq!(before.elapsed(), beat * 2);
    }

    #[tokio::test]
    async fn the_body_ends_with_the_events() {
        let response =
            SseResponse::<String>::new(frames(3), Duration::from_secs(15)).into_response();
        let body = response.into_body().into_string().await.unwrap();
        assert_eq!(body.matches("event: task.created\n").count(), 3);
        assert!(body.ends_with("\n\n"));
    }
}
