//! The interactive wizard: a pure flow (`flow`), prompts behind a trait
//! (`prompt`), and this driver, which walks the flow, shows the plan of the
//! chosen intent and, after the final confirmation, hands that same plan to
//! the executor.

pub mod flow;
pub mod prompt;

use flow::{Answer, Answers, Facts, Intent, Step, next, offers};
use prompt::Prompter;

/// Plans intents and carries out plans; the wizard never writes by itself.
pub trait Executor {
    /// What is shown for an intent and, once confirmed, carried out as it was shown.
    type Plan;
    /// The plan of `intent`, or why it cannot be made.
    fn plan(&mut self, intent: &Intent) -> Result<Self::Plan, String>;
    /// `plan` as `--dry-run` prints it.
    fn show(&self, plan: &Self::Plan) -> String;
    /// Carries out `plan`, the one shown; returns the exit status.
    fn run(&mut self, plan: Self::Plan) -> u8;
}

/// How the wizard ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An intent was confirmed and carried out with this exit status.
    Ran(Intent, u8),
    /// The operator quit: nothing changed.
    Quit,
    /// Cancelled (Ctrl-C, Esc, terminal gone): nothing changed.
    Cancelled,
}

impl Outcome {
    /// The process exit status: the action's, 0 for quit, 130 for cancel.
    pub fn exit(&self) -> u8 {
        match self {
            Self::Ran(_, code) => *code,
            Self::Quit => 0,
            Self::Cancelled => 130,
        }
    }
}

/// Runs the wizard over `facts` until an intent is carried out, or the operator leaves.
pub fn run<E: Executor>(facts: &Facts, prompter: &mut dyn Prompter, executor: &mut E) -> Outcome {
    let answers = Answers {
        binding: facts.binding.clone(),
        running: facts.running.clone(),
    };
    run_pending(facts.clone(), move || answers, prompter, executor)
}

/// As [`run`], with the API server's answer still to come: the node's state
/// is shown at once, the binding's and the running components' lines when
/// `answers` returns, then the menu.
pub fn run_pending<E: Executor>(
    mut facts: Facts,
    answers: impl FnOnce() -> Answers,
    prompter: &mut dyn Prompter,
    executor: &mut E,
) -> Outcome {
    prompter.say("This node:");
    for line in facts.describe_node() {
        prompter.say(&format!("  • {line}"));
    }
    let answers = answers();
    facts.binding = answers.binding;
    facts.running = answers.running;
    prompter.say(&format!("  • {}", facts.describe_binding()));
    if let Some(line) = facts.describe_running() {
        prompter.say(&format!("  • {line}"));
    }
    let facts = &facts;
    let mut step = Step::Menu;
    loop {
        let (answer, shown) = match ask(&step, facts, prompter, executor) {
            Ok(asked) => asked,
            Err(message) => {
                prompter.say(&format!("  {message}"));
                step = back_from(&step);
                continue;
            }
        };
        match (next(&step, answer, facts), shown) {
            // Only the confirmation of a plan leads to `Run`: the plan shown
            // is the one carried out. (`Run` without one would cancel.)
            (Ok(Step::Run(intent)), Some(plan)) => {
                let code = executor.run(plan);
                return Outcome::Ran(intent, code);
            }
            (Ok(Step::Quit), _) => return Outcome::Quit,
            (Ok(Step::Cancelled), _) => return Outcome::Cancelled,
            (Ok(following), _) => step = following,
            (Err(message), _) => prompter.say(&format!("  {message}")),
        }
    }
}

/// Where to go when a plan cannot be made: re-ask what led there.
fn back_from(step: &Step) -> Step {
    match step {
        Step::Confirm(Intent::MoveSuperAdmin { .. }) => Step::MovePath,
        _ => Step::Menu,
    }
}

/// Asks the prompt of `step`, with the plan shown at the final confirmation;
/// a plan that cannot be made is an `Err` to show.
fn ask<E: Executor>(
    step: &Step,
    facts: &Facts,
    prompter: &mut dyn Prompter,
    executor: &mut E,
) -> Result<(Answer, Option<E::Plan>), String> {
    let cancel_or =
        |answer: std::io::Result<Option<Answer>>| answer.ok().flatten().unwrap_or(Answer::Cancel);
    if let Step::Confirm(intent) = step {
        let plan = executor.plan(intent)?;
        prompter.say(&executor.show(&plan));
        let answer = cancel_or(
            prompter
                .confirm("Carry this out? Nothing has been changed so far", false)
                .map(|yes| yes.map(|yes| if yes { Answer::Yes } else { Answer::No })),
        );
        return Ok((answer, Some(plan)));
    }
    let answer = match step {
        Step::Menu => {
            let offers = offers(facts);
            let labels: Vec<String> = offers.iter().map(|offer| offer.label().to_owned()).collect();
            // The safe default: the last entry, Quit.
            let default = labels.len().saturating_sub(1);
            cancel_or(
                prompter
                    .select("What do you want to do?", &labels, default)
                    .map(|choice| choice.and_then(|index| offers.get(index).copied()).map(Answer::Offer)),
            )
        }
        Step::MigrateCopies { .. } => cancel_or(
            prompter
                .confirm("Also rewrite the stale copies with the new admin credential (each backed up, owner and mode kept)?", false)
                .map(|yes| yes.map(|yes| if yes { Answer::Yes } else { Answer::No })),
        ),
        Step::RenewCopies { .. } => cancel_or(
            prompter
                .confirm("admin.conf is renewed: also rewrite its copies with the new credential, in the same transaction (each backed up, owner and mode kept)?", false)
                .map(|yes| yes.map(|yes| if yes { Answer::Yes } else { Answer::No })),
        ),
        Step::RenewWindow => cancel_or(
            prompter
                .input("Renew what expires within", &facts.renew_window())
                .map(|text| text.map(Answer::Text)),
        ),
        Step::RenewValidity { .. } => cancel_or(
            prompter
                .input("New certificates valid for", &facts.renew_validity())
                .map(|text| text.map(Answer::Text)),
        ),
        Step::MovePath => cancel_or(
            prompter
                .input("Move super-admin.conf to (an absolute path off the node, e.g. removable media)", "")
                .map(|text| text.map(Answer::Text)),
        ),
        Step::PickBackup => cancel_or(
            prompter
                .select("Which backup?", &facts.backups, facts.backups.len().saturating_sub(1))
                .map(|choice| choice.map(Answer::Index)),
        ),
        Step::Confirm(_) | Step::Run(_) | Step::Quit | Step::Cancelled => Answer::Cancel,
    };
    Ok((answer, None))
}
