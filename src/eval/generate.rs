//! Responses to a task set from a model of [`crate::model`] (base, or base + adapter): each
//! task's conversation (system prompt, prompt or messages) rendered with the model's chat
//! template and its generation prompt, `samples` continuations per task, each with its own seed.
//!
//! The output is the responses JSONL that `vcurate eval run --responses` reads (extra keys
//! `tokens`, `prompt_tokens` and `stop_reason` ride along; the reader allows them), so a
//! generated run can be rescored or compared with any other model's. This module never scores:
//! scoring reads the written file back like any other responses file.

use serde::{Deserialize, Serialize};

use super::task::{Response, Task};
use crate::model::chat::ChatFormatter;
use crate::model::generate::{Decoder, GenerateError, Generator, SamplingParams, StopReason};

/// How many samples to draw and how.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    pub samples: u32,
    pub sampling: SamplingParams,
    /// Base seed; each (task, sample) draws from [`sample_seed`].
    pub seed: u64,
}

/// One line of a generated responses file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedResponse {
    #[serde(flatten)]
    pub response: Response,
    /// Tokens generated (a final EOS token included).
    pub tokens: usize,
    pub prompt_tokens: usize,
    pub stop_reason: StopReason,
}

/// The seed of one sample: a hash of the base seed, the task id and the sample index, so a
/// sample does not depend on which other tasks or samples are in the run, or their order.
pub fn sample_seed(seed: u64, task_id: &str, sample: u32) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(b"vcurate-eval-sample\0");
    h.update(&seed.to_le_bytes());
    h.update(task_id.as_bytes());
    h.update(b"\0");
    h.update(&sample.to_le_bytes());
    let bytes = h.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The task's conversation rendered with the model's chat template, ending with the assistant's
/// generation prompt.
pub fn render_prompt(formatter: &ChatFormatter, task: &Task) -> Result<String, GenerateError> {
    Ok(formatter.render_with_tools(&task.chat(), &task.tools, true)?)
}

/// Generates `opts.samples` responses per task, in task order then sample order. The prompt of
/// a task is fed once and its cache shared by the samples. `on_sample` is called after each.
pub fn generate_responses<M: Decoder>(
    generator: &Generator<M>,
    formatter: &ChatFormatter,
    tasks: &[Task],
    opts: &GenerateOptions,
    model_label: &str,
    on_sample: &mut dyn FnMut(&GeneratedResponse),
) -> Result<Vec<GeneratedResponse>, GenerateError> {
    opts.sampling.validate()?;
    let mut out = Vec::with_capacity(tasks.len() * opts.samples as usize);
    for task in tasks {
        let prompt = generator.encode(&render_prompt(formatter, task)?)?;
        let prefilled = generator.prefill(&prompt)?;
        for sample in 0..opts.samples {
            let g = generator.continue_from(
                prefilled.clone(),
                &opts.sampling,
                sample_seed(opts.seed, &task.id, sample),
            )?;
            let line = GeneratedResponse {
                response: Response {
                    task_id: task.id.clone(),
                    sample,
                    response: g.text.clone(),
                    model: Some(model_label.to_string()),
                },
                tokens: g.tokens(),
                prompt_tokens: prompt.len(),
                stop_reason: g.stop_reason,
            };
            on_sample(&line);
            out.push(line);
        }
    }
    Ok(out)
}

/// The responses as JSONL, one line each.
pub fn to_jsonl(responses: &[GeneratedResponse]) -> Result<String, serde_json::Error> {
    let mut s = String::new();
    for r in responses {
        s.push_str(&serde_json::to_string(r)?);
        s.push('\n');
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::task::parse_responses;

    #[test]
    fn sample_seeds_depend_on_seed_task_and_sample_only() {
        let a = sample_seed(7, "stack", 0);
        assert_eq!(a, sample_seed(7, "stack", 0));
        assert_ne!(a, sample_seed(7, "stack", 1));
        assert_ne!(a, sample_seed(8, "stack", 0));
        assert_ne!(a, sample_seed(7, "queue", 0));
        // The separator keeps ("ab", 0) and ("a", ...) apart.
        assert_ne!(sample_seed(0, "ab", 0), sample_seed(0, "a", 0));
    }

    #[test]
    fn generated_lines_are_read_by_the_responses_loader() {
        let task: Task = serde_json::from_str(
            r#"{"id":"a","category":"c","difficulty":"easy","prompt":"write x"}"#,
        )
        .unwrap();
        let lines = vec![
            GeneratedResponse {
                response: Response {
                    task_id: "a".into(),
                    sample: 0,
                    response: "```luau\nlocal x = 1\n```".into(),
                    model: Some("m".into()),
                },
                tokens: 9,
                prompt_tokens: 4,
                stop_reason: StopReason::Eos,
            },
            GeneratedResponse {
                response: Response {
                    task_id: "a".into(),
                    sample: 1,
                    response: "x".into(),
                    model: Some("m".into()),
                },
                tokens: 3,
                prompt_tokens: 4,
                stop_reason: StopReason::MaxTokens,
            },
        ];
        let text = to_jsonl(&lines).unwrap();
        assert!(text.contains("\"stop_reason\":\"max_tokens\""), "{text}");
        let back = parse_responses(std::path::Path::new("r.jsonl"), &text, &[task]).unwrap();
        let want: Vec<Response> = lines.iter().map(|l| l.response.clone()).collect();
        assert_eq!(back, want);
    }
}
