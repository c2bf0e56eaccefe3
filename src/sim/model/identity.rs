//! Keystone's side: projects with their quotas, users, application
//! credentials and tokens.

use secrecy::SecretString;
use time::OffsetDateTime;

use crate::sim::model::Model;

#[derive(Debug, Clone)]
pub struct Quota {
    pub instances: i64,
    pub cores: i64,
    pub ram_mb: i64,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub quota: Quota,
}

#[derive(Debug, Clone)]
pub struct AppCred {
    pub id: String,
    pub name: String,
    pub secret: SecretString,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub password: SecretString,
    pub project: usize,
    pub roles: Vec<String>,
    pub app_creds: Vec<AppCred>,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub user: usize,
    pub project: usize,
    pub roles: Vec<String>,
    pub methods: Vec<String>,
    pub issued: OffsetDateTime,
    /// After this the token is refused.
    pub valid_until: OffsetDateTime,
    /// What `expires_at` says.
    pub expires_at: OffsetDateTime,
    pub audit_id: String,
    pub app_cred: Option<usize>,
}

impl Model {
    pub fn project_by_name(&self, name: &str) -> Option<usize> {
        self.projects.iter().position(|p| p.name == name)
    }

    pub fn project_by_id(&self, id: &str) -> Option<usize> {
        self.projects.iter().position(|p| p.id == id)
    }

    pub(super) fn project_id_or_default(
        &self,
        name: &Option<String>,
        what: &str,
    ) -> Result<String, String> {
        match name {
            Some(n) => self
                .project_by_name(n)
                .map(|p| self.projects[p].id.clone())
                .ok_or_else(|| format!("{what}: project {n:?} is not defined")),
            None => Ok(self.default_project_id()),
        }
    }

    /// The project of the first admin user (or the first project).
    pub fn default_project_id(&self) -> String {
        self.first_admin_user()
            .map(|u| self.projects[self.users[u].project].id.clone())
            .unwrap_or_else(|| self.projects[0].id.clone())
    }

    pub fn first_admin_user(&self) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.roles.iter().any(|r| r == "admin"))
    }

    pub(super) fn first_user_of(&self, project_id: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| self.projects[u.project].id == project_id)
            .map(|u| u.id.clone())
    }

    /// Servers, used cores and RAM of a project (not deleted).
    pub fn usage(&self, project_id: &str) -> (i64, i64, i64) {
        let mut n = 0;
        let mut cores = 0;
        let mut ram = 0;
        for s in &self.servers {
            if !s.is_deleted() && s.project_id == project_id {
                n += 1;
                cores += i64::from(s.flavor.vcpus);
                ram += s.flavor.ram_mb as i64;
            }
        }
        (n, cores, ram)
    }
}
