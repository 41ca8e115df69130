//! report.html in a real browser (headless Chromium, installed by `.ci/run`): at a desktop and a
//! phone width the page fits its width (no sideways scrolling), no clause row is squeezed into
//! a column (the phone layout stacks each clause), the failing clauses come first, and the copy
//! buttons of the replay lines are there. A screenshot of each width is written beside the report.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::binary::{conform, wait};

fn chromium() -> PathBuf {
    ["chromium-headless-shell", "chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(move |d| d.join(name))
                .collect::<Vec<_>>()
        })
        .chain([PathBuf::from("/usr/lib/chromium/headless_shell")])
        .find(|p| p.is_file())
        .expect(
            "headless Chromium is not installed (apt-get install chromium-headless-shell; .ci/run does)",
        )
}

/// What the page measures of itself once laid out at `width` px, as `key=value` lines.
fn measure(page: &Path, width: u32, shot: &Path) -> std::collections::BTreeMap<String, f64> {
    // A chart is over its line where a drawn point stands above it (a smaller y).
    let probe = "<script>function over(){var n=0;document.querySelectorAll('svg.chart').forEach(function(svg){\
        var line=svg.querySelector('line.limit');if(!line)return;var ly=parseFloat(line.getAttribute('y1'));\
        svg.querySelectorAll('polyline').forEach(function(p){for(var i=0;i<p.points.length;i++){if(p.points[i].y<ly-0.5){n++;return}}})});return n}\
        window.addEventListener('load',function(){\
        var d=document.documentElement,rows=document.querySelectorAll('table.clauses tr[data-status]:not(.evidence)');\
        var tallest=0;rows.forEach(function(r){tallest=Math.max(tallest,r.getBoundingClientRect().height)});\
        var first=document.querySelector('table.clauses tr[data-status]');\
        var out=document.createElement('pre');out.id='measured';\
        out.textContent='scroll_width='+d.scrollWidth+'\\ninner_width='+window.innerWidth+'\\nrows='+rows.length+\
        '\\ntallest_row='+tallest+'\\nfirst_is_fail='+(first&&first.dataset.status==='fail'?1:0)+\
        '\\ncopy_buttons='+document.querySelectorAll('button.copy').length+\
        '\\nbroke_in_failing='+document.querySelectorAll('tr.evidence[data-status=fail] .broke').length+\
        '\\nbroke_elsewhere='+document.querySelectorAll('tr.evidence:not([data-status=fail]) .broke').length+\
        '\\ntimeline_links='+Array.from(document.querySelectorAll('a.timeline-link')).filter(function(a){return document.querySelector(a.getAttribute('href'))}).length+\
        '\\nbreach_figures='+document.querySelectorAll('figure.breach').length+\
        '\\ncharts_over_their_line='+over()+\
        '\\ncharts_with_a_line='+document.querySelectorAll('svg.chart line.limit').length;\
        document.body.appendChild(out);});</script>";
    let html = std::fs::read_to_string(page).unwrap();
    let probed = page.with_file_name(format!("probed-{width}.html"));
    std::fs::write(&probed, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let url = format!("file://{}", probed.display());
    let size = format!("--window-size={width},900");
    let run = |extra: &[&str]| {
        let child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                &size,
            ])
            .args(extra)
            .arg(&url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("chromium starts");
        wait(child, Duration::from_secs(60))
    };
    let shot_arg = format!("--screenshot={}", shot.display());
    let out = run(&[&shot_arg]);
    assert!(shot.is_file(), "no screenshot: {}", out.stderr);
    let out = run(&["--dump-dom", "--virtual-time-budget=3000"]);
    let dom = out.stdout;
    let at = dom
        .find("<pre id=\"measured\">")
        .unwrap_or_else(|| panic!("the page did not measure itself: {}", out.stderr));
    let text = &dom[at + "<pre id=\"measured\">".len()..];
    let text = &text[..text.find("</pre>").unwrap()];
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

#[test]
fn the_report_fits_a_desktop_and_a_phone_and_shows_failures_first() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let out = conform(&[
        "run",
        "--quiet",
        "--only",
        "AUTH-KEY-*,RL-429-*",
        "--fault",
        "apikey-revoked-accepted",
        "--fault",
        "rl-no-retry-after",
        "--format",
        "html",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    out.assert_code(1, "the faults fail the run: ");
    let page = reports.join("report.html");
    for (width, name) in [(1366, "desktop"), (390, "phone")] {
        let shot = reports.join(format!("screenshot-{name}.png"));
        let m = measure(&page, width, &shot);
        assert!(
            m["scroll_width"] <= m["inner_width"],
            "{name}: the page is wider than the window ({m:?})"
        );
        assert!(m["rows"] >= 10.0, "{name}: {m:?}");
        // A clause whose title and reason are squeezed into a narrow column grows to hundreds
        // of pixels; stacked, the longest (a property's reason) stays under 400.
        assert!(
            m["tallest_row"] < 400.0,
            "{name}: a clause row is {m:?} tall"
        );
        assert_eq!(
            m["first_is_fail"], 1.0,
            "{name}: the first clause is no failure"
        );
        assert!(m["copy_buttons"] >= 2.0, "{name}: {m:?}");
        // The exchange that broke each failing clause is marked, and only there.
        assert!(m["broke_in_failing"] >= 2.0, "{name}: {m:?}");
        assert_eq!(m["broke_elsewhere"], 0.0, "{name}: {m:?}");
        eprintln!("{name}: {m:?}; screenshot {}", shot.display());
    }
}

/// A rate-limit failure: the clause links to its burst's timeline, whose figure is marked as
/// the failure's, the breaking exchange marked in its evidence.
#[test]
fn a_limit_failure_links_to_its_marked_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let out = conform(&[
        "run",
        "--quiet",
        "--only",
        "RL-CREATION-LIMIT",
        "--fault",
        "rl-off-by-one",
        "--format",
        "html",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    out.assert_code(1, "rl-off-by-one fails the run: ");
    let page = reports.join("report.html");
    let m = measure(&page, 1366, &reports.join("screenshot-desktop.png"));
    assert!(m["timeline_links"] >= 1.0, "{m:?}");
    assert!(m["breach_figures"] >= 1.0, "{m:?}");
    assert!(m["broke_in_failing"] >= 1.0, "{m:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("class=\"breach\""),
        "no over-limit span drawn"
    );
}

/// A passing load swarm: no chart shows a value above its line.
#[test]
fn a_passing_swarms_charts_stay_under_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let out = conform(&[
        "load",
        "--quiet",
        "--scenario",
        "load-burst",
        "--users",
        "10",
        "--duration",
        "3s",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    out.assert_code(0, "a faultless swarm passes: ");
    let m = measure(
        &reports.join("report.html"),
        1366,
        &reports.join("screenshot-desktop.png"),
    );
    assert!(m["charts_with_a_line"] >= 1.0, "{m:?}");
    assert_eq!(m["charts_over_their_line"], 0.0, "{m:?}");
}
