//! Micro-benchmark of the intro renderer: `cargo bench --bench markdown`.
//!
//! Renders a realistic ~10 kB Markdown intro (headings, paragraphs with bold and links, lists,
//! a task list, a table, a code block, social badges and raw `<img width>` tags) with
//! `fulcrum::markdown::render` (what saving an intro does: pulldown-cmark, then the ammonia
//! sanitizer), and, as the baseline measured in the same run, with pulldown-cmark alone using
//! the same options. The text is byte-for-byte the one `bench/load.sh` stores for its profile
//! page target (`python3 bench/bench.py intro` prints it); its length and SHA-256 are printed
//! so the two can be compared.
//!
//! Method: a 0.5 s warm-up per variant (which also sizes the batches), then BATCHES batches per
//! variant, interleaved (render, baseline, render, …) so that drift on a shared machine hits
//! both alike; each batch times ITERS renders with `std::time::Instant`. Reported: the median
//! batch as µs per render, min..max, and the ratio of the medians. On Linux each batch is also
//! timed in on-CPU time of the benchmark thread (first field of /proc/thread-self/schedstat,
//! in ns), which leaves out the time the thread waited for a CPU: on a busy 2-core machine the
//! wall-clock figures swing by 2x between runs, the on-CPU ones much less.
//! Optional environment: MARKDOWN_BENCH_BATCHES (default 15), MARKDOWN_BENCH_BATCH_MS (target
//! batch length, default 60).
//!
//! Then hostile intros (issue #7): documents of the allowed length built to be slow (deep
//! nesting, floods of raw tags, brackets, emphasis). Each is rendered 5 times; reported is the
//! median in ms and its ratio to the realistic intro, and whether the renderer refused it
//! (nesting over 32, more than 1,000 raw tags) or rendered it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pulldown_cmark::{html, Options, Parser};
use sha2::{Digest, Sha256};

const BADGES: &[(&str, &str, &str)] = &[
    (
        "X: @weights_biases",
        "https://img.shields.io/twitter/follow/weights_biases?style=social",
        "https://x.com/intent/follow?screen_name=weights_biases",
    ),
    (
        "GitHub followers",
        "https://img.shields.io/github/followers/wandb?style=social",
        "https://github.com/wandb",
    ),
    (
        "GitHub stars",
        "https://img.shields.io/github/stars/wandb/wandb?style=social",
        "https://github.com/wandb/wandb",
    ),
    (
        "LinkedIn",
        "https://img.shields.io/badge/LinkedIn-follow-blue?style=social&logo=linkedin",
        "https://www.linkedin.com/company/wandb/",
    ),
    (
        "YouTube",
        "https://img.shields.io/youtube/channel/subscribers/UCBp3w4DCEC64FZr4k9ROxig?style=social",
        "https://www.youtube.com/@WeightsBiases",
    ),
];
const RAW_BADGES: &[(&str, &str, &str)] = &[
    ("python", "3.12", "blue"),
    ("pytorch", "2.5", "orange"),
    ("jax", "0.4", "9cf"),
    ("license", "Apache--2.0", "green"),
    ("papers", "7", "informational"),
    ("status", "open%20to%20collabs", "brightgreen"),
];
const TOPICS: &[(&str, &str)] = &[
    ("Learning-rate warm-up", "warm-up"),
    ("Mixed precision", "bf16"),
    ("Data loader stalls", "dataloader"),
    ("Sweeps on a budget", "sweeps"),
    ("Evaluation drift", "eval"),
    ("Checkpoint sizes", "checkpoints"),
];
const MODELS: &[&str] = &[
    "resnet-50",
    "vit-b/16",
    "convnext-t",
    "deit-s",
    "efficientnet-b3",
    "mobilenet-v3",
    "swin-t",
    "regnety-8gf",
];

/// The same document as `intro_markdown()` in bench/bench.py (keep the two in step).
fn intro_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Ada Bench \u{2014} machine learning engineer\n\n");
    let badges: Vec<String> = BADGES
        .iter()
        .map(|(a, i, h)| format!("[![{a}]({i})]({h})"))
        .collect();
    out.push_str(&badges.join(" "));
    out.push_str("\n\n");
    out.push_str("<p align=\"left\">\n");
    for (n, (label, msg, color)) in RAW_BADGES.iter().enumerate() {
        out.push_str(&format!(
            "  <img src=\"https://img.shields.io/badge/{label}-{msg}-{color}\" width=\"{}\" alt=\"{label}\">\n",
            100 + 20 * (n % 3)
        ));
    }
    out.push_str("</p>\n\n");
    out.push_str(
        "I train **vision and language models** at a small lab and write about the boring parts \
         that decide whether an experiment is worth anything: *data*, *evaluation* and \
         **reproducibility**. Most of my public work lives on \
         [GitHub](https://github.com/wandb) and in reports on \
         [Weights & Biases](https://wandb.ai/site). Before that I spent four years on \
         recommendation systems, where I learned to distrust any metric I had not plotted \
         myself.\n\n",
    );
    out.push_str("## About me\n\n");
    out.push_str(
        "- \u{1F52D} Currently: scaling laws for **small** models (under 300M parameters)\n\
         - \u{1F331} Learning: [JAX](https://jax.readthedocs.io) and `pjit` sharding\n\
         - \u{1F4AC} Ask me about: sweeps, `wandb.log` hygiene, mixed precision\n\
         - \u{1F4EB} Reach me: [ada@example.com](mailto:ada@example.com) or on \
         [X](https://x.com/weights_biases)\n\
         - \u{26A1} Fun fact: my first model was a ~~perceptron~~ logistic regression in Excel\n\n",
    );
    out.push_str("## Selected results\n\n");
    out.push_str("| model | dataset | top-1 (%) | params (M) | epochs | report |\n");
    out.push_str("|:---|:---|---:|---:|---:|:---:|\n");
    for (n, m) in MODELS.iter().enumerate() {
        let top1 = 7600 + (n * 137) % 900;
        let params = 5 + (n * 11) % 80;
        out.push_str(&format!(
            "| `{m}` | ImageNet-1k | {}.{:02} | {params} | {} | [run](https://wandb.ai/ada/scaling/runs/{:05}) |\n",
            top1 / 100,
            top1 % 100,
            90 + 10 * (n % 4),
            n * 7919 % 100000
        ));
    }
    out.push('\n');
    out.push_str("## Reproduce a run\n\n");
    out.push_str(
        "```python\n\
         import wandb\n\
         \n\
         config = {\"lr\": 3e-4, \"batch_size\": 256, \"epochs\": 90, \"warmup\": 5}\n\
         with wandb.init(project=\"scaling\", entity=\"ada\", config=config) as run:\n\
         \x20   model = build_model(run.config)\n\
         \x20   for epoch in range(run.config.epochs):\n\
         \x20       loss = train_one_epoch(model, epoch)\n\
         \x20       acc = evaluate(model)\n\
         \x20       run.log({\"loss\": loss, \"val/acc\": acc, \"epoch\": epoch})\n\
         \x20   run.log_artifact(save_checkpoint(model), type=\"model\")\n\
         ```\n\n",
    );
    out.push_str("## Things I would like to do\n\n");
    out.push_str(
        "- [x] Publish the data-loader benchmark\n\
         - [x] Write up the bf16 loss-scale notes\n\
         - [ ] Open-source the sweep scheduler\n\
         - [ ] Give a talk that has no slides with tables on them\n\n",
    );
    out.push_str("## Notes from recent experiments\n\n");
    let list: Vec<String> = BADGES
        .iter()
        .map(|(a, i, h)| format!("- [![{a}]({i})]({h})"))
        .collect();
    let footer = format!(
        "## Elsewhere\n\n\
         > \u{201C}If it is not logged, it did not happen.\u{201D} \u{2014} every lab notebook, ever\n\n\
         {}\n\n\
         ---\n\n\
         <sub>Made with \u{2764}\u{FE0F} and too many GPU hours. \
         <img src=\"https://img.shields.io/badge/visitors-1337-lightgrey\" width=\"90\"></sub>\n",
        list.join("\n")
    );
    let mut n = 0usize;
    loop {
        let (title, tag) = TOPICS[n % TOPICS.len()];
        let run = (n * 7919 + 17) % 100000;
        let sec = format!(
            "### {}. {title}\n\n\
             Run [`{tag}-{run:05}`](https://wandb.ai/ada/scaling/runs/{run:05}) changed one \
             thing against its parent: **{}**. Validation accuracy moved by \
             {} basis points and the step time by {} ms. \
             The effect held over three seeds, which is more than I can say for most of my \
             ideas. See the [report](https://wandb.ai/ada/scaling/reports/\
             {tag}--Vmlldzo{run:05}) for the curves.\n\n\
             1. Baseline: **{}**, batch size {}\n\
             2. Change: `{tag}` only, everything else pinned\n\
             3. Verdict: _keep it_ if the gain survives the next data refresh\n\n",
            n + 1,
            title.to_lowercase(),
            (n * 37) % 90 + 10,
            (n * 13) % 40 + 5,
            MODELS[n % MODELS.len()],
            128usize << (n % 3),
        );
        if out.len() + sec.len() + footer.len() > 10_500 {
            break;
        }
        out.push_str(&sec);
        n += 1;
    }
    out.push_str(&footer);
    assert!(
        (10_000..=10_500).contains(&out.len()),
        "intro is {} bytes, expected 10,000..10,500",
        out.len()
    );
    out
}

fn pulldown_only(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut html_out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut html_out, Parser::new_ext(markdown, options));
    html_out
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, got {v:?}")),
        Err(_) => default,
    }
}

/// On-CPU time of the calling thread in ns (Linux schedstat), or None where unavailable.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Times one batch of `iters` calls: (wall seconds per call, on-CPU seconds per call).
fn batch(f: &dyn Fn(&str) -> String, text: &str, iters: u64) -> (f64, Option<f64>) {
    let c0 = thread_cpu_ns();
    let t = Instant::now();
    for _ in 0..iters {
        black_box(f(black_box(text)));
    }
    let wall = t.elapsed().as_secs_f64() / iters as f64;
    let cpu = match (c0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e9 / iters as f64),
        _ => None,
    };
    (wall, cpu)
}

/// (median, min, max) of a sample.
fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    let med = median(&mut v);
    (med, v[0], v[v.len() - 1])
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes `--bench`. Without it we were started by `cargo test --all-targets`:
    // check that both variants run and produce the expected HTML, and stop there.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let batches = env_u64("MARKDOWN_BENCH_BATCHES", 15).max(1) as usize;
    let batch_ms = env_u64("MARKDOWN_BENCH_BATCH_MS", 60).max(1);

    let text = intro_markdown();
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();

    let full = |s: &str| fulcrum::markdown::render(s).unwrap_or_default();
    let base = |s: &str| pulldown_only(s);
    let full_html = full(&text);
    let base_html = base(&text);
    assert!(
        full_html.contains("<h1>Ada Bench") && full_html.contains("<table>"),
        "unexpected render output"
    );
    assert!(
        base_html.contains("<h1>Ada Bench") && base_html.contains("<table>"),
        "unexpected pulldown-cmark output"
    );
    if !bench_mode {
        for (name, doc, refused) in hostile_intros() {
            let out = fulcrum::markdown::render(&doc);
            assert_eq!(out.is_err(), refused, "{name}");
        }
        println!(
            "markdown bench: test mode (no --bench): {} bytes rendered to {} bytes, ok",
            text.len(),
            full_html.len()
        );
        return;
    }

    // Warm-up: at least 0.5 s of each, which also sizes the batches.
    let mut per = [0f64; 2];
    for (k, f) in [&full as &dyn Fn(&str) -> String, &base]
        .into_iter()
        .enumerate()
    {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_millis(500) {
            black_box(f(black_box(&text)));
            n += 1;
        }
        per[k] = start.elapsed().as_secs_f64() / n as f64;
    }
    let iters: Vec<u64> = per
        .iter()
        .map(|p| ((batch_ms as f64 / 1000.0) / p).ceil().max(1.0) as u64)
        .collect();

    let (mut wall_full, mut wall_base) = (Vec::new(), Vec::new());
    let (mut cpu_full, mut cpu_base) = (Vec::new(), Vec::new());
    for _ in 0..batches {
        let (w, c) = batch(&full, &text, iters[0]);
        wall_full.push(w);
        cpu_full.extend(c);
        let (w, c) = batch(&base, &text, iters[1]);
        wall_base.push(w);
        cpu_base.extend(c);
    }

    println!("intro: {} bytes of Markdown, sha256 {hex}", text.len());
    println!(
        "output: {} bytes of HTML after sanitizing, {} bytes from pulldown-cmark alone",
        full_html.len(),
        base_html.len()
    );
    println!(
        "{batches} interleaved batches per variant ({} / {} renders per batch), after a 0.5 s \
         warm-up each; median us/render (min .. max over batches):",
        iters[0], iters[1]
    );
    let report = |clock: &str, full_s: &[f64], base_s: &[f64]| {
        let (mf, lf, hf) = stats(full_s);
        let (mb, lb, hb) = stats(base_s);
        let us = |x: f64| x * 1e6;
        println!("  [{clock}]");
        println!(
            "    fulcrum::markdown::render (pulldown-cmark + sanitize): {:8.1}  ({:.1} .. {:.1})",
            us(mf),
            us(lf),
            us(hf)
        );
        println!(
            "    pulldown-cmark alone (baseline):                       {:8.1}  ({:.1} .. {:.1})",
            us(mb),
            us(lb),
            us(hb)
        );
        println!(
            "    ratio render / pulldown-cmark alone: {:.2}x  (sanitizing adds ~{:.1} us/render)",
            mf / mb,
            us(mf - mb)
        );
    };
    report("wall clock, std::time::Instant", &wall_full, &wall_base);
    if cpu_full.len() == batches && cpu_base.len() == batches {
        report(
            "on-CPU time of this thread, /proc/thread-self/schedstat",
            &cpu_full,
            &cpu_base,
        );
    } else {
        println!("  (on-CPU time not available here: /proc/thread-self/schedstat unreadable)");
    }
    hostile(&full, &text);
}

/// Intros of the allowed length (20,000 characters) built to be slow, and whether the
/// renderer must refuse them.
fn hostile_intros() -> Vec<(&'static str, String, bool)> {
    let cases = vec![
        ("ordered lists nested 6600 deep", "1. ".repeat(6600), true),
        ("quotes nested 6600 deep", "> ".repeat(6600), true),
        (
            "quotes 15 deep, 440 times",
            format!("{}x\n\n", "> ".repeat(15)).repeat(440),
            false,
        ),
        (
            "lists 15 deep, 440 times",
            format!("{}x\n\n", "- ".repeat(15)).repeat(440),
            false,
        ),
        (
            "<b><i> x 3000 (misnested tags)",
            "<b><i>".repeat(3000),
            true,
        ),
        ("<b><p> x 499", "<b><p>".repeat(499), false),
        ("<div> x 1000", "<div>".repeat(1000), false),
        ("table cells x 333", "<table><tr><td>".repeat(333), false),
        ("emphasis runs", "*a **b ".repeat(2800), false),
        ("unclosed links", "[a](".repeat(5000), false),
        ("brackets", "[".repeat(20_000), false),
        ("backticks", "`a``".repeat(5000), false),
        ("5000 list items", "- a\n".repeat(5000), false),
        (
            "3000 table columns",
            format!("{}\n{}\n", "|a".repeat(3000), "|-".repeat(3000)),
            false,
        ),
        ("autolinks x 1500", "<http://a.b/>".repeat(1500), false),
    ];
    cases
        .into_iter()
        .map(|(n, d, r)| (n, d.chars().take(20_000).collect(), r))
        .collect()
}

fn hostile(full: &dyn Fn(&str) -> String, realistic: &str) {
    let median_of = |f: &dyn Fn()| {
        let mut xs: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect();
        xs.sort_by(|a, b| a.total_cmp(b));
        xs[2]
    };
    let base = median_of(&|| {
        black_box(full(black_box(realistic)));
    });
    println!(
        "hostile intros (median of 5 renders; ratio to the realistic 10 kB intro, {:.2} ms):",
        base * 1e3
    );
    for (name, doc, _) in hostile_intros() {
        let refused = fulcrum::markdown::render(&doc).is_err();
        let t = median_of(&|| {
            let _ = black_box(fulcrum::markdown::render(black_box(&doc)));
        });
        println!(
            "  {name:34} {:8.2} ms  {:6.1}x  {}",
            t * 1e3,
            t / base,
            if refused { "refused" } else { "rendered" }
        );
    }
}
