//! Users, their project roles, API keys, sessions and server settings. Secrets never
//! reach this layer in the clear: passwords arrive as argon2id hashes, keys and refresh
//! tokens as SHA-256 hashes; none is ever written to the audit log.

use crate::engine::{
    Backend, SqlStore, WriteTx, append_audit, check_name, check_user_name, from_json, get,
};
use crate::error::{Result, StoreError};
use crate::interface::Identity;
use crate::model::*;
use promptops_api::*;
use promptops_core::clock::now_rfc3339;
use promptops_core::role::Role;
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

/// The start of a session id, enough to tell sessions apart in the audit log without
/// writing the id itself there.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn check_project_scope(project: &str) -> Result<()> {
    if project == ALL_PROJECTS {
        Ok(())
    } else {
        check_name("project", project)
    }
}

fn parse_role(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| StoreError::corrupt(format!("unknown role `{text}`")))
}

fn teams_from(text: &str) -> Result<Vec<String>> {
    from_json(text, "user teams")
}

fn key_from_row(row: &AnyRow) -> Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        key: ApiKey {
            prefix: get(row, "prefix")?,
            name: get(row, "name")?,
            owner: get(row, "owner")?,
            project: get(row, "project")?,
            role: parse_role(&get::<String>(row, "role")?)?,
            created_at: get(row, "created_at")?,
            expires_at: get(row, "expires_at")?,
            revoked_at: get(row, "revoked_at")?,
            revoked_by: get(row, "revoked_by")?,
            revoked_reason: get(row, "revoked_reason")?,
            last_used_at: get(row, "last_used_at")?,
            ci: get::<i64>(row, "ci")? != 0,
        },
        secret_hash: get(row, "secret_hash")?,
    })
}

const KEY_COLUMNS: &str = "prefix, name, secret_hash, owner, project, role, created_at, expires_at, revoked_at, revoked_by, revoked_reason, last_used_at, ci";

impl SqlStore {
    pub(crate) async fn user_in(
        conn: &mut AnyConnection,
        name: &str,
    ) -> Result<Option<UserRecord>> {
        let Some(row) = sqlx::query(
            "SELECT name, password_hash, teams, disabled, created_at, created_by FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let roles = sqlx::query(
            "SELECT project, role FROM memberships WHERE user_name = $1 ORDER BY project",
        )
        .bind(name)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(Membership {
                project: get(r, "project")?,
                role: parse_role(&get::<String>(r, "role")?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        Ok(Some(UserRecord {
            user: User {
                name: get(&row, "name")?,
                teams: teams_from(&get::<String>(&row, "teams")?)?,
                disabled: get::<i64>(&row, "disabled")? != 0,
                created_at: get(&row, "created_at")?,
                created_by: get(&row, "created_by")?,
                roles,
            },
            password_hash: get(&row, "password_hash")?,
        }))
    }

    pub(crate) async fn require_user(conn: &mut AnyConnection, name: &str) -> Result<User> {
        Ok(Self::user_in(conn, name)
            .await?
            .ok_or_else(|| StoreError::not_found("user", name))?
            .user)
    }

    pub(crate) async fn insert_user(
        tx: &mut WriteTx,
        new: &NewUser,
        roles: &[Membership],
        actor: &Actor,
        bootstrap: bool,
    ) -> Result<User> {
        check_user_name("user", &new.name)?;
        for team in &new.teams {
            check_user_name("team", team)?;
        }
        for m in roles {
            check_project_scope(&m.project)?;
        }
        if new
            .name
            .to_ascii_lowercase()
            .starts_with(SYSTEM_ACTOR_PREFIX)
            && !bootstrap
        {
            return Err(StoreError::invalid(format!(
                "`{}` is reserved: names starting with `{SYSTEM_ACTOR_PREFIX}` are the system's own actors in the audit log; choose another",
                new.name
            )));
        }
        // Names that differ only by case would read as one person in the audit log.
        if let Some(row) = sqlx::query("SELECT name FROM users WHERE lower(name) = lower($1)")
            .bind(&new.name)
            .fetch_optional(&mut **tx)
            .await?
        {
            let existing: String = get(&row, "name")?;
            let detail = if existing == new.name {
                format!("user `{}` already exists", new.name)
            } else {
                format!(
                    "user `{existing}` already exists, and names differing only by case would read as one person; choose another"
                )
            };
            return Err(StoreError::conflict(detail, None));
        }
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO users (name, password_hash, teams, disabled, created_at, created_by) VALUES ($1, $2, $3, 0, $4, $5)",
        )
        .bind(&new.name)
        .bind(&new.password_hash)
        .bind(json!(new.teams).to_string())
        .bind(&now)
        .bind(actor.as_str())
        .execute(&mut **tx)
        .await?;
        for m in roles {
            Self::upsert_membership(tx, &m.project, &new.name, Some(m.role), actor).await?;
        }
        append_audit(
            tx,
            actor,
            "user.created",
            &format!("user:{}", new.name),
            json!({"user": new.name, "teams": new.teams, "roles": roles, "bootstrap": bootstrap}),
        )
        .await?;
        Self::require_user(tx, &new.name).await
    }

    pub(crate) async fn upsert_membership(
        tx: &mut WriteTx,
        project: &str,
        user: &str,
        role: Option<Role>,
        actor: &Actor,
    ) -> Result<()> {
        match role {
            Some(role) => {
                sqlx::query(
                    "INSERT INTO memberships (project, user_name, role, granted_at, granted_by) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (project, user_name) DO UPDATE SET role = excluded.role, granted_at = excluded.granted_at, granted_by = excluded.granted_by",
                )
                .bind(project)
                .bind(user)
                .bind(role.as_str())
                .bind(now_rfc3339())
                .bind(actor.as_str())
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM memberships WHERE project = $1 AND user_name = $2")
                    .bind(project)
                    .bind(user)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn session_in(
        conn: &mut AnyConnection,
        id: &str,
    ) -> Result<Option<SessionRecord>> {
        sqlx::query(
            "SELECT id, user_name, created_at, refreshed_at, refresh_hash, ended_at, ended_reason FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| {
            Ok(SessionRecord {
                id: get(&r, "id")?,
                user: get(&r, "user_name")?,
                created_at: get(&r, "created_at")?,
                refreshed_at: get(&r, "refreshed_at")?,
                refresh_hash: get(&r, "refresh_hash")?,
                ended_at: get(&r, "ended_at")?,
                ended_reason: get(&r, "ended_reason")?,
            })
        })
        .transpose()
    }

    pub(crate) async fn end_sessions_in(
        tx: &mut WriteTx,
        user: &str,
        only: Option<&str>,
        reason: &str,
        now: &str,
    ) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE sessions SET ended_at = $1, ended_reason = $2 \
             WHERE user_name = $3 AND ended_at IS NULL AND ($4 = '' OR id = $4)",
        )
        .bind(now)
        .bind(reason)
        .bind(user)
        .bind(only.unwrap_or(""))
        .execute(&mut **tx)
        .await?
        .rows_affected())
    }

    pub(crate) async fn key_in(
        conn: &mut AnyConnection,
        prefix: &str,
    ) -> Result<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE prefix = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(prefix)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| key_from_row(&r))
            .transpose()
    }
}

impl Identity for SqlStore {
    /// Creates the first admin (a role in every project) when there is no user yet;
    /// `None` when there already are users. Racing servers create at most one.
    async fn bootstrap_admin(&self, new: &NewUser, actor: &Actor) -> Result<Option<User>> {
        let mut tx = self.write_tx().await?;
        let count: i64 = get(
            &sqlx::query("SELECT COUNT(*) AS n FROM users")
                .fetch_one(&mut *tx)
                .await?,
            "n",
        )?;
        if count > 0 {
            return Ok(None);
        }
        let admin = [Membership {
            project: ALL_PROJECTS.to_owned(),
            role: Role::Admin,
        }];
        let user = Self::insert_user(&mut tx, new, &admin, actor, true).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    async fn create_user(
        &self,
        new: &NewUser,
        roles: &[Membership],
        actor: &Actor,
    ) -> Result<User> {
        let mut tx = self.write_tx().await?;
        let user = Self::insert_user(&mut tx, new, roles, actor, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn user(&self, name: &str) -> Result<Option<UserRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::user_in(&mut conn, name).await
    }

    async fn users(&self) -> Result<Vec<User>> {
        let mut conn = self.pool.acquire().await?;
        let names = sqlx::query("SELECT name FROM users ORDER BY name")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| get::<String>(r, "name"))
            .collect::<Result<Vec<_>>>()?;
        let mut users = Vec::with_capacity(names.len());
        for name in names {
            users.push(Self::require_user(&mut conn, &name).await?);
        }
        Ok(users)
    }

    async fn set_user_disabled(&self, name: &str, disabled: bool, actor: &Actor) -> Result<User> {
        let mut tx = self.write_tx().await?;
        let user = Self::require_user(&mut tx, name).await?;
        if user.disabled == disabled {
            return Ok(user);
        }
        sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2")
            .bind(i64::from(disabled))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        // Disabling is final for what the user held: enabling them again gives back
        // the password, never the old sessions or keys.
        let (sessions_ended, keys_revoked) = if disabled {
            let now = now_rfc3339();
            let sessions =
                Self::end_sessions_in(&mut tx, name, None, "user disabled", &now).await?;
            let keys = sqlx::query(
                "UPDATE api_keys SET revoked_at = $1, revoked_by = $2, revoked_reason = 'user disabled' \
                 WHERE owner = $3 AND revoked_at IS NULL",
            )
            .bind(&now)
            .bind(actor.as_str())
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            (sessions, keys)
        } else {
            (0, 0)
        };
        let (action, details) = if disabled {
            (
                "user.disabled",
                json!({"user": name, "sessions_ended": sessions_ended, "keys_revoked": keys_revoked}),
            )
        } else {
            ("user.enabled", json!({"user": name}))
        };
        append_audit(&mut tx, actor, action, &format!("user:{name}"), details).await?;
        let user = Self::require_user(&mut tx, name).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Gives `user` `role` in `project` (`*`: every project), or takes their role there away.
    async fn set_role(
        &self,
        project: &str,
        user: &str,
        role: Option<Role>,
        actor: &Actor,
    ) -> Result<User> {
        check_project_scope(project)?;
        let mut tx = self.write_tx().await?;
        let before = Self::require_user(&mut tx, user).await?;
        let had = before
            .roles
            .iter()
            .find(|m| m.project == project)
            .map(|m| m.role);
        if had == role {
            return Ok(before);
        }
        Self::upsert_membership(&mut tx, project, user, role, actor).await?;
        append_audit(
            &mut tx,
            actor,
            if role.is_some() {
                "member.granted"
            } else {
                "member.revoked"
            },
            &format!("member:{project}/{user}"),
            json!({"project": project, "user": user, "from": had, "to": role}),
        )
        .await?;
        let user = Self::require_user(&mut tx, user).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Removes a server setting and returns its value: how a secret that older
    /// versions kept in the database (`jwt_secret`) is moved out of it.
    async fn take_setting(&self, name: &str) -> Result<Option<String>> {
        let mut tx = self.write_tx().await?;
        let existing = sqlx::query("SELECT value FROM server_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = existing else {
            return Ok(None);
        };
        let value: String = get(&row, "value")?;
        sqlx::query("DELETE FROM server_settings WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // SQLite overwrites deleted content (secure_delete), but the WAL still holds the
        // old page until a checkpoint: fold it in now so no copy of the value remains.
        if matches!(self.backend, Backend::Sqlite { .. }) {
            sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(value))
    }

    /// Starts a session (a login). Sessions whose refresh token has long expired are
    /// forgotten here, so the table holds about one row per live login.
    async fn setting_or_init(&self, name: &str, initial: &str) -> Result<String> {
        let mut tx = self.write_tx().await?;
        let existing = sqlx::query("SELECT value FROM server_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = existing {
            return get(&row, "value");
        }
        sqlx::query("INSERT INTO server_settings (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(initial)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(initial.to_owned())
    }

    async fn start_session(&self, new: &NewSession, forget_before: &str) -> Result<()> {
        let now = now_rfc3339();
        let mut conn = self.pool.acquire().await?;
        sqlx::query("DELETE FROM sessions WHERE refreshed_at < $1")
            .bind(forget_before)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_name, created_at, refreshed_at, refresh_hash) VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(&new.id)
        .bind(&new.user)
        .bind(&now)
        .bind(&new.refresh_hash)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::session_in(&mut conn, id).await
    }

    /// Trades the refresh token known by `presented` for the one known by `next`. A
    /// token traded in before ends the session: one of its two holders is a thief.
    async fn rotate_session(&self, id: &str, presented: &str, next: &str) -> Result<Rotation> {
        let mut tx = self.write_tx().await?;
        let Some(session) = Self::session_in(&mut tx, id).await? else {
            return Ok(Rotation::Ended("the session is unknown".into()));
        };
        if let Some(reason) = session.ended_reason {
            return Ok(Rotation::Ended(reason));
        }
        let now = now_rfc3339();
        if session.refresh_hash != presented {
            Self::end_sessions_in(
                &mut tx,
                &session.user,
                Some(id),
                "refresh token reused",
                &now,
            )
            .await?;
            append_audit(
                &mut tx,
                &Actor::new(format!("{SYSTEM_ACTOR_PREFIX}security")),
                "session.reuse_detected",
                &format!("user:{}", session.user),
                json!({"user": session.user, "session": short(id), "ended": true}),
            )
            .await?;
            tx.commit().await?;
            return Ok(Rotation::Reused);
        }
        sqlx::query("UPDATE sessions SET refresh_hash = $1, refreshed_at = $2 WHERE id = $3")
            .bind(next)
            .bind(&now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    /// Ends one session of `user` (`only`) or all of them; how many were live.
    /// Ending all is audited; a single logout is not (logins are not either).
    async fn end_sessions(
        &self,
        user: &str,
        only: Option<&str>,
        reason: &str,
        actor: &Actor,
    ) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        Self::require_user(&mut tx, user).await?;
        let now = now_rfc3339();
        let ended = Self::end_sessions_in(&mut tx, user, only, reason, &now).await?;
        if only.is_none() {
            append_audit(
                &mut tx,
                actor,
                "user.sessions_ended",
                &format!("user:{user}"),
                json!({"user": user, "sessions_ended": ended, "reason": reason}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    async fn create_key(&self, new: &NewApiKey, actor: &Actor) -> Result<ApiKey> {
        check_user_name("key", &new.name)?;
        check_name("project", &new.project)?;
        let mut tx = self.write_tx().await?;
        Self::require_user(&mut tx, &new.owner).await?;
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO api_keys (prefix, name, secret_hash, owner, project, role, created_at, expires_at, ci) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&new.prefix)
        .bind(&new.name)
        .bind(&new.secret_hash)
        .bind(&new.owner)
        .bind(&new.project)
        .bind(new.role.as_str())
        .bind(&now)
        .bind(&new.expires_at)
        .bind(i64::from(new.ci))
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "key.created",
            &format!("key:{}", new.prefix),
            json!({"key": new.prefix, "name": new.name, "owner": new.owner, "project": new.project, "role": new.role, "expires_at": new.expires_at, "ci": new.ci}),
        )
        .await?;
        let key = Self::key_in(&mut tx, &new.prefix)
            .await?
            .ok_or_else(|| StoreError::corrupt("a key just written cannot be read back"))?;
        tx.commit().await?;
        Ok(key.key)
    }

    async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::key_in(&mut conn, prefix).await
    }

    /// Every key (of one owner, when given), newest first.
    async fn api_keys(&self, owner: Option<&str>) -> Result<Vec<ApiKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE ($1 = '' OR owner = $1) ORDER BY created_at DESC, prefix"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| key_from_row(r).map(|k| k.key))
            .collect()
    }

    async fn revoke_key(&self, prefix: &str, actor: &Actor) -> Result<ApiKey> {
        let mut tx = self.write_tx().await?;
        let key = Self::key_in(&mut tx, prefix)
            .await?
            .ok_or_else(|| StoreError::not_found("API key", prefix))?;
        if key.key.revoked_at.is_some() {
            return Ok(key.key);
        }
        sqlx::query("UPDATE api_keys SET revoked_at = $1, revoked_by = $2 WHERE prefix = $3")
            .bind(now_rfc3339())
            .bind(actor.as_str())
            .bind(prefix)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            actor,
            "key.revoked",
            &format!("key:{prefix}"),
            json!({"key": prefix, "name": key.key.name, "owner": key.key.owner, "project": key.key.project}),
        )
        .await?;
        let key = Self::key_in(&mut tx, prefix)
            .await?
            .ok_or_else(|| StoreError::corrupt("a revoked key cannot be read back"))?;
        tx.commit().await?;
        Ok(key.key)
    }

    /// Notes when a key was last used (not audited: it is not a change of rights).
    async fn touch_key(&self, prefix: &str, at: &str) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE prefix = $2")
            .bind(at)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
