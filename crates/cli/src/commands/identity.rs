//! The identity commands: log in and out, who am I, users, API keys.

use super::registry::{Session, registry_url, saved_from};
use crate::Outcome;
use crate::cli::{Format, KeyAction, UserAction};
use crate::output::{self, BOLD, GREEN, RED};
use crate::project::Project;
use anstream::{eprintln, println};
use anyhow::{Context, Result, anyhow, bail};
use promptops_api::{CreateKey, CreateUser, Membership, Role, User};
use promptops_client::RegistryClient;
use serde_json::json;
use std::io::{BufRead, IsTerminal};

fn read_password(prompt: &str, from_stdin: bool) -> Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).context("cannot read the password")?
    } else {
        bail!("no terminal to ask the password on: pass --password-stdin and pipe it in");
    };
    if password.is_empty() {
        bail!("the password is empty");
    }
    Ok(password)
}

pub fn login(
    project: &Project,
    registry: Option<&str>,
    user: Option<&str>,
    password_stdin: bool,
    format: Format,
) -> Result<Outcome> {
    let url = registry_url(project, registry)?;
    let user = match user {
        Some(u) => u.to_owned(),
        None if std::io::stdin().is_terminal() => {
            eprint!("user: ");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim().to_owned()
        }
        None => bail!("pass --user NAME"),
    };
    let password = read_password("password: ", password_stdin)?;
    let client = RegistryClient::new(&url, None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let session = match runtime.block_on(client.login(&user, &password)) {
        Ok(s) => s,
        Err(promptops_client::ClientError::Api { detail, .. }) => {
            eprintln!("{RED}error{RED:#}: {detail}");
            return Ok(Outcome::Findings);
        }
        Err(e) => return Err(e.into()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let path = crate::credentials::save(&url, saved_from(&session, now))?;
    match format {
        Format::Json => {
            output::json(&json!({"registry": url, "user": session.user, "saved_to": path}))
        }
        Format::Text => println!(
            "logged in to {url} as {BOLD}{}{BOLD:#}; session saved to {} (readable by you only)",
            session.user.name,
            path.display()
        ),
    }
    Ok(Outcome::Ok)
}

/// Ends the saved session on the server (so a copy of its tokens is useless too), then
/// forgets it. An unreachable server or an expired session still forgets locally.
pub fn logout(project: &Project, registry: Option<&str>, all: bool) -> Result<Outcome> {
    let url = registry_url(project, registry)?;
    let Some(saved) = crate::credentials::load(&url)? else {
        println!("no saved session for {url}");
        return Ok(Outcome::Ok);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let ended = RegistryClient::new(&url, Some(&saved.access_token))
        .map_err(anyhow::Error::from)
        .and_then(|c| runtime.block_on(c.logout(all)).map_err(anyhow::Error::from));
    crate::credentials::forget(&url)?;
    match ended {
        Ok(answer) => println!(
            "logged out of {url} ({} session{} ended on the server)",
            answer.sessions_ended,
            if answer.sessions_ended == 1 { "" } else { "s" }
        ),
        Err(e) => {
            println!("logged out of {url} (forgotten here; the server could not end it: {e})")
        }
    }
    Ok(Outcome::Ok)
}

fn roles_text(user: &User) -> String {
    user.roles
        .iter()
        .map(|m| format!("{}={}", m.project, m.role))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn whoami(session: &Session) -> Result<Outcome> {
    let me = match session.block(session.client.whoami()) {
        Ok(me) => me,
        Err(e) => return session.refused(e),
    };
    match session.format {
        Format::Json => output::json(&me),
        Format::Text => {
            let key = me
                .key
                .as_deref()
                .map(|k| {
                    format!(
                        " through key {k} ({} in {})",
                        me.key_role.as_deref().unwrap_or("?"),
                        me.key_project.as_deref().unwrap_or("?")
                    )
                })
                .unwrap_or_default();
            let teams = if me.user.teams.is_empty() {
                "none".to_owned()
            } else {
                me.user.teams.join(", ")
            };
            println!(
                "{BOLD}{}{BOLD:#}{key} at {}; roles: {}; teams: {teams}",
                me.user.name,
                session.url,
                roles_text(&me.user),
            );
        }
    }
    Ok(Outcome::Ok)
}

pub(super) fn done(
    session: &Session,
    value: &impl serde::Serialize,
    text: String,
) -> Result<Outcome> {
    match session.format {
        Format::Json => output::json(value),
        Format::Text => println!("{text}"),
    }
    Ok(Outcome::Ok)
}

pub fn user(session: &Session, action: &UserAction) -> Result<Outcome> {
    let c = &session.client;
    match action {
        UserAction::Add {
            name,
            teams,
            roles,
            password_stdin,
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    let (project, role) = r.split_once('=').ok_or_else(|| {
                        anyhow!(
                            "--role `{r}`: use PROJECT=ROLE, e.g. {}=editor or *=admin",
                            session.project
                        )
                    })?;
                    let role = Role::parse(role).ok_or_else(|| {
                        anyhow!(
                            "--role `{r}`: unknown role `{role}`; use one of {}",
                            Role::NAMES.join(", ")
                        )
                    })?;
                    Ok(Membership {
                        project: project.to_owned(),
                        role,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let password = read_password(&format!("password for {name}: "), *password_stdin)?;
            let new = CreateUser {
                name: name.clone(),
                password,
                teams: teams.clone(),
                roles,
            };
            match session.block(c.create_user(&new)) {
                Ok(u) => done(
                    session,
                    &u,
                    format!("{GREEN}created{GREEN:#} user {name} ({})", roles_text(&u)),
                ),
                Err(e) => session.refused(e),
            }
        }
        UserAction::List => match session.block(c.users()) {
            Ok(users) => {
                if session.format == Format::Json {
                    output::json(&users);
                } else {
                    for u in &users {
                        println!(
                            "{:<20} {:<9} roles: {:<30} teams: {}",
                            u.name,
                            if u.disabled { "disabled" } else { "active" },
                            roles_text(u),
                            u.teams.join(", ")
                        );
                    }
                }
                Ok(Outcome::Ok)
            }
            Err(e) => session.refused(e),
        },
        UserAction::Disable { name } | UserAction::Enable { name } => {
            let disable = matches!(action, UserAction::Disable { .. });
            match session.block(c.set_user_disabled(name, disable)) {
                Ok(u) => done(
                    session,
                    &u,
                    format!(
                        "{name} is {}",
                        if disable {
                            "disabled: their sessions and keys stop working"
                        } else {
                            "enabled (their old sessions and keys stay revoked)"
                        }
                    ),
                ),
                Err(e) => session.refused(e),
            }
        }
        UserAction::EndSessions { name } => match session.block(c.end_sessions(name)) {
            Ok(answer) => done(
                session,
                &answer,
                format!(
                    "ended {} session(s) of {name}: their tokens stop working now",
                    answer.sessions_ended
                ),
            ),
            Err(e) => session.refused(e),
        },
        UserAction::Grant {
            name,
            role,
            project,
        } => {
            let project = project.as_deref().unwrap_or(&session.project);
            match session.block(c.set_role(project, name, Some(role))) {
                Ok(u) => done(session, &u, format!("{name} is {role} in {project}")),
                Err(e) => session.refused(e),
            }
        }
        UserAction::Revoke { name, project } => {
            let project = project.as_deref().unwrap_or(&session.project);
            match session.block(c.set_role(project, name, None)) {
                Ok(u) => done(session, &u, format!("{name} has no role in {project} now")),
                Err(e) => session.refused(e),
            }
        }
    }
}

pub fn key(session: &Session, action: &KeyAction) -> Result<Outcome> {
    let c = &session.client;
    match action {
        KeyAction::Create {
            name,
            role,
            project,
            expires_in_days,
            ci,
        } => {
            let project = project.as_deref().unwrap_or(&session.project);
            let new = CreateKey {
                name: name.clone(),
                project: project.to_owned(),
                role: role.clone(),
                expires_in_days: *expires_in_days,
                ci: *ci,
            };
            match session.block(c.create_key(&new)) {
                Ok(created) => {
                    if session.format == Format::Json {
                        output::json(&created);
                    } else {
                        println!("{}", created.key);
                        eprintln!(
                            "{GREEN}created{GREEN:#} key {} ({role} in {project}{}{}); it is shown this once: keep it in a secret store (PROMPTOPS_TOKEN)",
                            created.api_key.prefix,
                            if *ci { ", for CI" } else { "" },
                            created
                                .api_key
                                .expires_at
                                .as_deref()
                                .map(|e| format!(", expires {e}"))
                                .unwrap_or_default()
                        );
                    }
                    Ok(Outcome::Ok)
                }
                Err(e) => session.refused(e),
            }
        }
        KeyAction::List { all } => match session.block(c.keys(*all)) {
            Ok(keys) => {
                if session.format == Format::Json {
                    output::json(&keys);
                } else if keys.is_empty() {
                    println!("no keys (`promptops key create --name ci --role editor`)");
                } else {
                    for k in &keys {
                        let state = match (&k.revoked_at, &k.expires_at) {
                            (Some(at), _) => format!("revoked {at}"),
                            (None, Some(exp)) => format!("expires {exp}"),
                            (None, None) => "no expiry".into(),
                        };
                        println!(
                            "{:<16} {:<14} {:<8} {:<12} owner {:<12} {}  last used {}",
                            k.prefix,
                            k.name,
                            k.role,
                            k.project,
                            k.owner,
                            state,
                            k.last_used_at.as_deref().unwrap_or("never")
                        );
                    }
                }
                Ok(Outcome::Ok)
            }
            Err(e) => session.refused(e),
        },
        KeyAction::Revoke { prefix } => match session.block(c.revoke_key(prefix)) {
            Ok(k) => done(
                session,
                &k,
                format!("revoked {prefix}: it stops working now"),
            ),
            Err(e) => session.refused(e),
        },
    }
}
