//! Users, their project roles, API keys and server settings, in the shared SQL engine.
//! Secrets never reach this layer in the clear: passwords arrive as argon2id hashes
//! and keys as SHA-256 hashes; neither is ever written to the audit log.

use crate::error::{Result, StoreError};
use crate::model::*;
use crate::sql::{SqlRegistry, Tx, append_audit, check_name, get, parse_json};
use promptops_core::clock::now_rfc3339;
use promptops_core::role::Role;
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

/// User and team names: 1 to 64 letters, digits, `-`, `_`, `.` or `@` (emails work).
pub(crate) fn check_user_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "invalid {what} name `{name}`: use 1 to 64 letters, digits, `-`, `_`, `.` or `@`"
        )))
    }
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
    serde_json::from_value(parse_json(text, "user teams")?)
        .map_err(|e| StoreError::corrupt(format!("user teams: {e}")))
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
            last_used_at: get(row, "last_used_at")?,
        },
        secret_hash: get(row, "secret_hash")?,
    })
}

const KEY_COLUMNS: &str = "prefix, name, secret_hash, owner, project, role, created_at, expires_at, revoked_at, revoked_by, last_used_at";

impl SqlRegistry {
    async fn user_in(conn: &mut AnyConnection, name: &str) -> Result<Option<UserRecord>> {
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

    async fn require_user(conn: &mut AnyConnection, name: &str) -> Result<User> {
        Ok(Self::user_in(conn, name)
            .await?
            .ok_or_else(|| StoreError::not_found("user", name))?
            .user)
    }

    async fn insert_user(
        tx: &mut Tx,
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
        if Self::user_in(tx, &new.name).await?.is_some() {
            return Err(StoreError::conflict(
                format!("user `{}` already exists", new.name),
                None,
            ));
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

    async fn upsert_membership(
        tx: &mut Tx,
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

    /// Creates the first admin (a role in every project) when there is no user yet;
    /// `None` when there already are users. Racing servers create at most one.
    pub async fn bootstrap_admin(&self, new: &NewUser, actor: &Actor) -> Result<Option<User>> {
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

    pub async fn create_user(
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

    pub async fn user(&self, name: &str) -> Result<Option<UserRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::user_in(&mut conn, name).await
    }

    pub async fn users(&self) -> Result<Vec<User>> {
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

    pub async fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        actor: &Actor,
    ) -> Result<User> {
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
        let action = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        append_audit(
            &mut tx,
            actor,
            action,
            &format!("user:{name}"),
            json!({"user": name}),
        )
        .await?;
        let user = Self::require_user(&mut tx, name).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Gives `user` `role` in `project` (`*`: every project), or takes their role there away.
    pub async fn set_role(
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

    /// The value of a server setting, storing `initial` first when it has none (racing
    /// servers agree on the first value stored).
    pub async fn setting_or_init(&self, name: &str, initial: &str) -> Result<String> {
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

    // ----- API keys -----------------------------------------------------------------

    pub async fn create_key(&self, new: &NewApiKey, actor: &Actor) -> Result<ApiKey> {
        check_user_name("key", &new.name)?;
        check_name("project", &new.project)?;
        let mut tx = self.write_tx().await?;
        Self::require_user(&mut tx, &new.owner).await?;
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO api_keys (prefix, name, secret_hash, owner, project, role, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&new.prefix)
        .bind(&new.name)
        .bind(&new.secret_hash)
        .bind(&new.owner)
        .bind(&new.project)
        .bind(new.role.as_str())
        .bind(&now)
        .bind(&new.expires_at)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "key.created",
            &format!("key:{}", new.prefix),
            json!({"key": new.prefix, "name": new.name, "owner": new.owner, "project": new.project, "role": new.role, "expires_at": new.expires_at}),
        )
        .await?;
        let key = Self::key_in(&mut tx, &new.prefix)
            .await?
            .ok_or_else(|| StoreError::corrupt("a key just written cannot be read back"))?;
        tx.commit().await?;
        Ok(key.key)
    }

    async fn key_in(conn: &mut AnyConnection, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE prefix = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(prefix)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| key_from_row(&r))
            .transpose()
    }

    pub async fn api_key(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        let mut conn = self.pool.acquire().await?;
        Self::key_in(&mut conn, prefix).await
    }

    /// Every key (of one owner, when given), newest first.
    pub async fn api_keys(&self, owner: Option<&str>) -> Result<Vec<ApiKey>> {
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

    pub async fn revoke_key(&self, prefix: &str, actor: &Actor) -> Result<ApiKey> {
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
    pub async fn touch_key(&self, prefix: &str, at: &str) -> Result<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE prefix = $2")
            .bind(at)
            .bind(prefix)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
