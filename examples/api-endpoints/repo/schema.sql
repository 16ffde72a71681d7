-- The service's database schema (PostgreSQL). Every endpoint module in
-- api/ serves one of these tables; see ../job.yaml.

-- users: one row per user.
create table users (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  display_name_0 uuid not null,
  size_bytes_1 boolean not null,
  metadata_2 timestamptz,
  archived_3 bigint,
  kind_4 bigint,
  note_5 numeric(12,2),
  title_6 varchar(255),
  checksum_7 text not null,
  checksum_8 varchar(255),
  version_9 uuid,
  state_10 integer,
  checksum_11 jsonb not null,
  kind_12 timestamptz not null,
  size_bytes_13 timestamptz,
  priority_14 boolean,
  color_15 text not null,
  owner_16 bigint not null,
  note_17 timestamptz not null,
  slug_18 numeric(12,2),
  position_19 jsonb,
  archived_20 timestamptz,
  display_name_21 boolean not null,
  title_22 varchar(255)
);
create index users_created_at on users (created_at);
create index users_updated_at on users (updated_at);

-- teams: one row per team.
create table teams (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  user_id bigint not null references users(id) on delete cascade,
  state_0 integer not null,
  name_1 integer,
  slug_2 boolean,
  owner_3 varchar(255) not null,
  url_4 text not null,
  checksum_5 varchar(255),
  title_6 boolean not null,
  color_7 boolean not null,
  version_8 integer,
  size_bytes_9 timestamptz,
  title_10 integer,
  title_11 varchar(255),
  priority_12 timestamptz,
  name_13 timestamptz not null,
  external_id_14 integer not null,
  title_15 uuid,
  note_16 uuid not null,
  position_17 timestamptz,
  email_18 bigint,
  owner_19 bigint,
  size_bytes_20 text not null,
  color_21 uuid,
  name_22 timestamptz not null
);
create index teams_created_at on teams (created_at);
create index teams_updated_at on teams (updated_at);

-- projects: one row per project.
create table projects (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  user_id bigint not null references users(id) on delete cascade,
  priority_0 bigint not null,
  metadata_1 boolean not null,
  note_2 integer,
  version_3 varchar(255) not null,
  position_4 text not null,
  archived_5 numeric(12,2) not null,
  position_6 boolean,
  visibility_7 jsonb,
  archived_8 numeric(12,2) not null,
  expires_at_9 jsonb,
  kind_10 integer,
  email_11 boolean,
  name_12 bigint,
  email_13 jsonb not null,
  email_14 jsonb,
  metadata_15 bigint not null,
  note_16 text,
  priority_17 integer
);
create index projects_created_at on projects (created_at);
create index projects_updated_at on projects (updated_at);

-- repositories: one row per repositorie.
create table repositories (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  user_id bigint not null references users(id) on delete cascade,
  slug_0 integer,
  name_1 text not null,
  name_2 boolean,
  email_3 varchar(255),
  display_name_4 text not null,
  description_5 bigint,
  email_6 boolean,
  visibility_7 uuid,
  state_8 timestamptz,
  note_9 numeric(12,2) not null,
  kind_10 timestamptz,
  metadata_11 integer,
  display_name_12 bigint not null,
  email_13 bigint not null,
  owner_14 numeric(12,2) not null,
  slug_15 integer not null,
  position_16 boolean
);
create index repositories_created_at on repositories (created_at);
create index repositories_updated_at on repositories (updated_at);

-- branches: one row per branche.
create table branches (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  project_id bigint not null references projects(id) on delete cascade,
  name_0 varchar(255) not null,
  metadata_1 numeric(12,2),
  display_name_2 boolean not null,
  display_name_3 integer not null,
  version_4 integer not null,
  url_5 bigint not null,
  external_id_6 jsonb,
  kind_7 jsonb,
  state_8 uuid,
  position_9 uuid not null,
  position_10 jsonb,
  owner_11 numeric(12,2),
  checksum_12 boolean not null,
  archived_13 varchar(255) not null,
  url_14 numeric(12,2),
  external_id_15 bigint not null,
  email_16 uuid not null
);
create index branches_created_at on branches (created_at);
create index branches_updated_at on branches (updated_at);

-- commits: one row per commit.
create table commits (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  project_id bigint not null references projects(id) on delete cascade,
  kind_0 varchar(255),
  size_bytes_1 bigint not null,
  title_2 varchar(255) not null,
  external_id_3 integer not null,
  url_4 text not null,
  description_5 text not null,
  display_name_6 jsonb,
  archived_7 varchar(255),
  url_8 text not null,
  metadata_9 boolean,
  visibility_10 uuid,
  name_11 varchar(255) not null,
  slug_12 boolean,
  slug_13 uuid,
  title_14 numeric(12,2),
  position_15 numeric(12,2),
  name_16 varchar(255),
  url_17 varchar(255) not null,
  email_18 numeric(12,2),
  metadata_19 numeric(12,2),
  email_20 uuid,
  slug_21 boolean
);
create index commits_created_at on commits (created_at);
create index commits_updated_at on commits (updated_at);

-- pull_requests: one row per pull_request.
create table pull_requests (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  team_id bigint not null references teams(id) on delete cascade,
  size_bytes_0 numeric(12,2),
  display_name_1 text,
  slug_2 uuid,
  external_id_3 bigint,
  archived_4 boolean not null,
  position_5 bigint,
  expires_at_6 boolean not null,
  expires_at_7 uuid not null,
  color_8 text,
  owner_9 numeric(12,2),
  size_bytes_10 numeric(12,2),
  state_11 varchar(255) not null,
  display_name_12 bigint,
  description_13 text,
  visibility_14 bigint,
  expires_at_15 numeric(12,2),
  expires_at_16 jsonb,
  name_17 jsonb,
  archived_18 timestamptz not null,
  state_19 bigint
);
create index pull_requests_created_at on pull_requests (created_at);
create index pull_requests_updated_at on pull_requests (updated_at);

-- reviews: one row per review.
create table reviews (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  pull_request_id bigint not null references pull_requests(id) on delete cascade,
  color_0 varchar(255),
  kind_1 numeric(12,2) not null,
  expires_at_2 jsonb,
  expires_at_3 varchar(255),
  position_4 numeric(12,2) not null,
  owner_5 text,
  email_6 integer,
  slug_7 uuid not null,
  color_8 integer not null,
  position_9 integer,
  priority_10 boolean,
  color_11 jsonb,
  owner_12 jsonb not null,
  kind_13 numeric(12,2),
  color_14 timestamptz,
  kind_15 boolean,
  url_16 jsonb not null,
  email_17 jsonb not null,
  expires_at_18 numeric(12,2) not null,
  size_bytes_19 bigint,
  title_20 integer,
  slug_21 varchar(255),
  priority_22 varchar(255)
);
create index reviews_created_at on reviews (created_at);
create index reviews_updated_at on reviews (updated_at);

-- comments: one row per comment.
create table comments (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  pull_request_id bigint not null references pull_requests(id) on delete cascade,
  archived_0 bigint,
  expires_at_1 bigint,
  state_2 varchar(255),
  description_3 numeric(12,2),
  state_4 bigint not null,
  title_5 text,
  note_6 bigint,
  display_name_7 numeric(12,2),
  checksum_8 jsonb,
  state_9 bigint,
  visibility_10 uuid,
  note_11 timestamptz not null,
  state_12 varchar(255) not null,
  priority_13 text not null,
  visibility_14 boolean,
  display_name_15 integer,
  external_id_16 uuid,
  kind_17 jsonb not null,
  size_bytes_18 numeric(12,2),
  url_19 timestamptz,
  state_20 varchar(255)
);
create index comments_created_at on comments (created_at);
create index comments_updated_at on comments (updated_at);

-- issues: one row per issue.
create table issues (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  pull_request_id bigint not null references pull_requests(id) on delete cascade,
  color_0 integer,
  note_1 varchar(255),
  archived_2 numeric(12,2),
  description_3 timestamptz not null,
  external_id_4 numeric(12,2) not null,
  version_5 text,
  state_6 boolean,
  external_id_7 timestamptz,
  color_8 text not null,
  state_9 timestamptz,
  state_10 integer not null,
  owner_11 bigint,
  version_12 jsonb,
  description_13 bigint not null,
  checksum_14 jsonb,
  display_name_15 text not null,
  external_id_16 integer not null
);
create index issues_created_at on issues (created_at);
create index issues_updated_at on issues (updated_at);

-- labels: one row per label.
create table labels (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  project_id bigint not null references projects(id) on delete cascade,
  checksum_0 numeric(12,2),
  note_1 bigint,
  display_name_2 numeric(12,2) not null,
  slug_3 uuid,
  external_id_4 integer,
  title_5 text,
  color_6 numeric(12,2) not null,
  external_id_7 text,
  color_8 integer,
  expires_at_9 varchar(255),
  description_10 numeric(12,2),
  expires_at_11 bigint,
  expires_at_12 integer,
  display_name_13 text not null,
  note_14 varchar(255) not null,
  expires_at_15 uuid,
  display_name_16 text
);
create index labels_created_at on labels (created_at);
create index labels_updated_at on labels (updated_at);

-- milestones: one row per milestone.
create table milestones (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  comment_id bigint not null references comments(id) on delete cascade,
  url_0 text,
  position_1 uuid not null,
  visibility_2 jsonb,
  version_3 bigint not null,
  metadata_4 integer not null,
  slug_5 jsonb not null,
  version_6 bigint not null,
  slug_7 jsonb,
  name_8 timestamptz not null,
  external_id_9 integer not null,
  external_id_10 text,
  kind_11 uuid,
  title_12 boolean not null,
  slug_13 integer,
  metadata_14 varchar(255),
  visibility_15 timestamptz not null
);
create index milestones_created_at on milestones (created_at);
create index milestones_updated_at on milestones (updated_at);

-- releases: one row per release.
create table releases (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  repositorie_id bigint not null references repositories(id) on delete cascade,
  external_id_0 timestamptz,
  color_1 bigint,
  display_name_2 timestamptz,
  checksum_3 varchar(255),
  external_id_4 uuid not null,
  external_id_5 numeric(12,2),
  external_id_6 timestamptz,
  description_7 integer,
  metadata_8 uuid,
  priority_9 text not null,
  size_bytes_10 uuid,
  metadata_11 boolean,
  state_12 numeric(12,2) not null,
  priority_13 integer,
  archived_14 uuid,
  note_15 varchar(255),
  state_16 uuid not null,
  visibility_17 timestamptz not null
);
create index releases_created_at on releases (created_at);
create index releases_updated_at on releases (updated_at);

-- artifacts: one row per artifact.
create table artifacts (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  milestone_id bigint not null references milestones(id) on delete cascade,
  display_name_0 boolean,
  size_bytes_1 bigint,
  archived_2 numeric(12,2),
  name_3 integer,
  title_4 uuid,
  owner_5 integer not null,
  archived_6 text,
  priority_7 integer,
  color_8 text,
  position_9 jsonb,
  version_10 integer not null,
  expires_at_11 text,
  title_12 text,
  state_13 bigint not null,
  checksum_14 jsonb,
  display_name_15 jsonb not null,
  slug_16 numeric(12,2) not null,
  name_17 bigint,
  version_18 text
);
create index artifacts_created_at on artifacts (created_at);
create index artifacts_updated_at on artifacts (updated_at);

-- builds: one row per build.
create table builds (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  review_id bigint not null references reviews(id) on delete cascade,
  title_0 integer,
  external_id_1 bigint,
  description_2 text,
  slug_3 bigint not null,
  state_4 bigint not null,
  slug_5 boolean not null,
  metadata_6 integer not null,
  title_7 timestamptz,
  note_8 timestamptz,
  url_9 integer,
  url_10 bigint,
  priority_11 varchar(255) not null,
  name_12 bigint,
  expires_at_13 boolean,
  title_14 jsonb,
  external_id_15 timestamptz not null,
  archived_16 jsonb,
  metadata_17 uuid not null,
  slug_18 text not null,
  owner_19 integer
);
create index builds_created_at on builds (created_at);
create index builds_updated_at on builds (updated_at);

-- jobs: one row per job.
create table jobs (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  label_id bigint not null references labels(id) on delete cascade,
  kind_0 numeric(12,2),
  url_1 timestamptz not null,
  checksum_2 jsonb,
  metadata_3 boolean,
  email_4 integer,
  note_5 timestamptz,
  position_6 numeric(12,2) not null,
  kind_7 boolean not null,
  display_name_8 varchar(255) not null,
  url_9 jsonb,
  version_10 jsonb,
  slug_11 integer,
  name_12 numeric(12,2),
  slug_13 timestamptz not null,
  display_name_14 varchar(255),
  color_15 boolean,
  expires_at_16 boolean,
  checksum_17 timestamptz,
  owner_18 text
);
create index jobs_created_at on jobs (created_at);
create index jobs_updated_at on jobs (updated_at);

-- runners: one row per runner.
create table runners (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  repositorie_id bigint not null references repositories(id) on delete cascade,
  metadata_0 varchar(255) not null,
  archived_1 bigint,
  url_2 text not null,
  color_3 bigint not null,
  title_4 bigint,
  name_5 integer,
  color_6 uuid,
  archived_7 varchar(255),
  email_8 integer,
  title_9 varchar(255),
  priority_10 text not null,
  description_11 numeric(12,2),
  version_12 jsonb,
  expires_at_13 text,
  name_14 integer,
  external_id_15 numeric(12,2) not null,
  slug_16 timestamptz,
  description_17 jsonb not null,
  color_18 numeric(12,2),
  note_19 jsonb
);
create index runners_created_at on runners (created_at);
create index runners_updated_at on runners (updated_at);

-- secrets: one row per secret.
create table secrets (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  issue_id bigint not null references issues(id) on delete cascade,
  title_0 text,
  color_1 jsonb,
  kind_2 numeric(12,2),
  slug_3 integer not null,
  slug_4 uuid not null,
  display_name_5 numeric(12,2),
  state_6 numeric(12,2),
  note_7 varchar(255) not null,
  priority_8 integer,
  checksum_9 varchar(255),
  size_bytes_10 uuid not null,
  owner_11 text not null,
  title_12 uuid,
  expires_at_13 jsonb,
  slug_14 uuid,
  position_15 timestamptz not null,
  external_id_16 jsonb not null
);
create index secrets_created_at on secrets (created_at);
create index secrets_updated_at on secrets (updated_at);

-- environments: one row per environment.
create table environments (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  build_id bigint not null references builds(id) on delete cascade,
  state_0 bigint,
  metadata_1 uuid not null,
  slug_2 bigint not null,
  checksum_3 uuid not null,
  url_4 bigint not null,
  state_5 integer not null,
  expires_at_6 bigint not null,
  kind_7 numeric(12,2) not null,
  visibility_8 bigint not null,
  slug_9 uuid,
  owner_10 uuid,
  size_bytes_11 numeric(12,2) not null,
  note_12 timestamptz,
  email_13 jsonb,
  archived_14 jsonb not null,
  archived_15 varchar(255),
  external_id_16 uuid not null,
  email_17 integer
);
create index environments_created_at on environments (created_at);
create index environments_updated_at on environments (updated_at);

-- deployments: one row per deployment.
create table deployments (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  runner_id bigint not null references runners(id) on delete cascade,
  checksum_0 integer,
  archived_1 jsonb not null,
  archived_2 numeric(12,2),
  visibility_3 bigint not null,
  archived_4 bigint,
  note_5 integer,
  name_6 bigint not null,
  owner_7 integer,
  external_id_8 varchar(255),
  size_bytes_9 integer not null,
  title_10 uuid,
  note_11 text,
  kind_12 boolean,
  description_13 integer not null,
  version_14 varchar(255),
  size_bytes_15 timestamptz not null,
  name_16 integer not null,
  display_name_17 boolean,
  checksum_18 uuid not null,
  url_19 numeric(12,2) not null,
  checksum_20 varchar(255),
  state_21 timestamptz,
  priority_22 numeric(12,2),
  name_23 jsonb not null
);
create index deployments_created_at on deployments (created_at);
create index deployments_updated_at on deployments (updated_at);

-- webhooks: one row per webhook.
create table webhooks (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  user_id bigint not null references users(id) on delete cascade,
  external_id_0 jsonb,
  visibility_1 bigint,
  size_bytes_2 varchar(255) not null,
  title_3 uuid not null,
  email_4 bigint,
  visibility_5 bigint,
  external_id_6 uuid,
  display_name_7 text,
  owner_8 bigint not null,
  display_name_9 text not null,
  kind_10 boolean not null,
  visibility_11 timestamptz,
  checksum_12 bigint,
  size_bytes_13 uuid,
  display_name_14 jsonb not null,
  visibility_15 uuid not null,
  archived_16 text,
  slug_17 uuid not null,
  name_18 jsonb not null
);
create index webhooks_created_at on webhooks (created_at);
create index webhooks_updated_at on webhooks (updated_at);

-- events: one row per event.
create table events (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  build_id bigint not null references builds(id) on delete cascade,
  color_0 integer,
  external_id_1 text,
  email_2 varchar(255) not null,
  title_3 uuid,
  expires_at_4 bigint,
  note_5 bigint,
  email_6 integer not null,
  priority_7 timestamptz,
  color_8 jsonb,
  metadata_9 numeric(12,2),
  display_name_10 timestamptz,
  note_11 varchar(255) not null,
  slug_12 jsonb,
  position_13 numeric(12,2) not null,
  email_14 boolean not null,
  position_15 timestamptz,
  expires_at_16 integer,
  priority_17 uuid,
  external_id_18 bigint not null,
  display_name_19 uuid
);
create index events_created_at on events (created_at);
create index events_updated_at on events (updated_at);

-- notifications: one row per notification.
create table notifications (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  review_id bigint not null references reviews(id) on delete cascade,
  slug_0 text not null,
  name_1 text not null,
  state_2 varchar(255),
  visibility_3 boolean not null,
  title_4 text not null,
  size_bytes_5 integer not null,
  color_6 timestamptz not null,
  expires_at_7 bigint,
  email_8 varchar(255),
  visibility_9 jsonb not null,
  visibility_10 integer not null,
  color_11 numeric(12,2),
  expires_at_12 uuid,
  kind_13 boolean,
  position_14 boolean,
  position_15 numeric(12,2),
  title_16 bigint,
  position_17 timestamptz,
  owner_18 jsonb,
  note_19 text not null,
  color_20 jsonb,
  note_21 boolean,
  visibility_22 varchar(255),
  display_name_23 integer not null
);
create index notifications_created_at on notifications (created_at);
create index notifications_updated_at on notifications (updated_at);

-- subscriptions: one row per subscription.
create table subscriptions (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  build_id bigint not null references builds(id) on delete cascade,
  size_bytes_0 boolean not null,
  slug_1 integer not null,
  size_bytes_2 boolean,
  size_bytes_3 text not null,
  description_4 text,
  priority_5 uuid,
  slug_6 integer,
  owner_7 jsonb not null,
  position_8 text,
  note_9 integer,
  color_10 integer not null,
  slug_11 jsonb,
  priority_12 bigint,
  kind_13 varchar(255),
  color_14 jsonb,
  owner_15 numeric(12,2),
  slug_16 boolean not null,
  color_17 timestamptz not null,
  name_18 timestamptz,
  expires_at_19 timestamptz not null
);
create index subscriptions_created_at on subscriptions (created_at);
create index subscriptions_updated_at on subscriptions (updated_at);

-- invoices: one row per invoice.
create table invoices (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  commit_id bigint not null references commits(id) on delete cascade,
  slug_0 jsonb,
  url_1 jsonb,
  position_2 timestamptz,
  owner_3 numeric(12,2),
  display_name_4 integer,
  description_5 numeric(12,2) not null,
  metadata_6 timestamptz not null,
  checksum_7 integer,
  title_8 varchar(255) not null,
  priority_9 varchar(255),
  checksum_10 timestamptz,
  state_11 timestamptz not null,
  title_12 jsonb,
  owner_13 uuid,
  email_14 jsonb not null,
  color_15 numeric(12,2)
);
create index invoices_created_at on invoices (created_at);
create index invoices_updated_at on invoices (updated_at);

-- payments: one row per payment.
create table payments (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  review_id bigint not null references reviews(id) on delete cascade,
  slug_0 jsonb,
  visibility_1 uuid,
  position_2 bigint,
  metadata_3 timestamptz not null,
  checksum_4 text,
  url_5 uuid not null,
  email_6 integer,
  version_7 integer,
  checksum_8 uuid,
  state_9 varchar(255),
  metadata_10 varchar(255) not null,
  visibility_11 integer not null,
  version_12 boolean not null,
  display_name_13 boolean,
  checksum_14 integer,
  kind_15 bigint not null,
  slug_16 bigint,
  checksum_17 numeric(12,2) not null,
  owner_18 jsonb,
  checksum_19 boolean not null,
  name_20 numeric(12,2),
  name_21 jsonb,
  display_name_22 text,
  name_23 timestamptz
);
create index payments_created_at on payments (created_at);
create index payments_updated_at on payments (updated_at);

-- plans: one row per plan.
create table plans (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deployment_id bigint not null references deployments(id) on delete cascade,
  priority_0 jsonb,
  color_1 jsonb,
  display_name_2 timestamptz not null,
  display_name_3 uuid,
  slug_4 boolean,
  metadata_5 text not null,
  color_6 boolean,
  url_7 jsonb not null,
  owner_8 boolean not null,
  state_9 varchar(255),
  title_10 numeric(12,2) not null,
  size_bytes_11 integer,
  slug_12 bigint,
  state_13 jsonb,
  kind_14 numeric(12,2) not null,
  metadata_15 bigint,
  url_16 bigint,
  visibility_17 bigint not null,
  display_name_18 timestamptz,
  name_19 timestamptz,
  state_20 text,
  state_21 uuid not null
);
create index plans_created_at on plans (created_at);
create index plans_updated_at on plans (updated_at);

-- coupons: one row per coupon.
create table coupons (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  issue_id bigint not null references issues(id) on delete cascade,
  size_bytes_0 numeric(12,2) not null,
  position_1 boolean,
  size_bytes_2 bigint not null,
  size_bytes_3 uuid not null,
  metadata_4 timestamptz not null,
  checksum_5 jsonb,
  email_6 jsonb,
  color_7 varchar(255),
  email_8 bigint,
  metadata_9 integer not null,
  expires_at_10 numeric(12,2) not null,
  size_bytes_11 integer,
  expires_at_12 varchar(255) not null,
  external_id_13 numeric(12,2),
  size_bytes_14 uuid not null,
  display_name_15 boolean not null,
  position_16 bigint,
  metadata_17 boolean,
  archived_18 jsonb,
  email_19 timestamptz,
  note_20 varchar(255),
  display_name_21 jsonb,
  priority_22 text,
  display_name_23 bigint
);
create index coupons_created_at on coupons (created_at);
create index coupons_updated_at on coupons (updated_at);

-- audit_logs: one row per audit_log.
create table audit_logs (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  coupon_id bigint not null references coupons(id) on delete cascade,
  external_id_0 varchar(255) not null,
  email_1 varchar(255),
  position_2 text,
  size_bytes_3 bigint,
  note_4 numeric(12,2),
  archived_5 numeric(12,2) not null,
  description_6 uuid not null,
  display_name_7 timestamptz not null,
  priority_8 boolean,
  slug_9 bigint not null,
  size_bytes_10 varchar(255),
  description_11 varchar(255) not null,
  email_12 integer,
  slug_13 boolean not null,
  description_14 timestamptz,
  name_15 uuid not null,
  size_bytes_16 uuid,
  expires_at_17 numeric(12,2),
  size_bytes_18 numeric(12,2),
  url_19 bigint not null,
  size_bytes_20 jsonb not null,
  priority_21 numeric(12,2) not null,
  version_22 jsonb not null
);
create index audit_logs_created_at on audit_logs (created_at);
create index audit_logs_updated_at on audit_logs (updated_at);

-- api_keys: one row per api_key.
create table api_keys (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deployment_id bigint not null references deployments(id) on delete cascade,
  description_0 boolean,
  slug_1 boolean,
  size_bytes_2 uuid,
  position_3 jsonb,
  state_4 numeric(12,2),
  owner_5 varchar(255),
  owner_6 boolean not null,
  name_7 timestamptz not null,
  checksum_8 bigint,
  owner_9 numeric(12,2),
  expires_at_10 integer,
  size_bytes_11 integer,
  expires_at_12 timestamptz not null,
  slug_13 bigint not null,
  external_id_14 text,
  name_15 uuid,
  priority_16 numeric(12,2)
);
create index api_keys_created_at on api_keys (created_at);
create index api_keys_updated_at on api_keys (updated_at);

-- sessions: one row per session.
create table sessions (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  event_id bigint not null references events(id) on delete cascade,
  expires_at_0 jsonb,
  color_1 varchar(255),
  display_name_2 timestamptz,
  metadata_3 integer not null,
  version_4 jsonb not null,
  archived_5 varchar(255),
  checksum_6 jsonb not null,
  state_7 text,
  owner_8 text not null,
  name_9 jsonb not null,
  owner_10 numeric(12,2),
  metadata_11 timestamptz,
  version_12 timestamptz,
  state_13 numeric(12,2),
  visibility_14 jsonb,
  kind_15 jsonb not null,
  email_16 boolean,
  version_17 text not null,
  kind_18 integer not null,
  expires_at_19 uuid,
  email_20 numeric(12,2),
  state_21 varchar(255)
);
create index sessions_created_at on sessions (created_at);
create index sessions_updated_at on sessions (updated_at);

-- devices: one row per device.
create table devices (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  webhook_id bigint not null references webhooks(id) on delete cascade,
  checksum_0 integer not null,
  archived_1 uuid,
  external_id_2 boolean,
  expires_at_3 jsonb,
  name_4 integer,
  title_5 uuid,
  size_bytes_6 text not null,
  description_7 numeric(12,2),
  color_8 jsonb not null,
  note_9 boolean not null,
  url_10 jsonb,
  size_bytes_11 uuid not null,
  expires_at_12 timestamptz,
  email_13 varchar(255) not null,
  slug_14 integer not null,
  checksum_15 boolean,
  slug_16 timestamptz not null,
  version_17 varchar(255),
  external_id_18 timestamptz,
  note_19 uuid,
  visibility_20 uuid,
  color_21 text not null,
  external_id_22 jsonb
);
create index devices_created_at on devices (created_at);
create index devices_updated_at on devices (updated_at);

-- organizations: one row per organization.
create table organizations (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  artifact_id bigint not null references artifacts(id) on delete cascade,
  display_name_0 boolean,
  email_1 numeric(12,2),
  url_2 varchar(255) not null,
  kind_3 bigint,
  version_4 jsonb,
  description_5 uuid not null,
  priority_6 numeric(12,2) not null,
  description_7 timestamptz,
  description_8 bigint not null,
  color_9 bigint not null,
  position_10 uuid,
  expires_at_11 uuid,
  expires_at_12 varchar(255),
  owner_13 bigint,
  title_14 timestamptz not null,
  url_15 numeric(12,2),
  size_bytes_16 jsonb,
  version_17 integer not null,
  visibility_18 integer not null,
  external_id_19 numeric(12,2),
  size_bytes_20 integer not null,
  position_21 numeric(12,2),
  position_22 bigint
);
create index organizations_created_at on organizations (created_at);
create index organizations_updated_at on organizations (updated_at);

-- invitations: one row per invitation.
create table invitations (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  team_id bigint not null references teams(id) on delete cascade,
  email_0 numeric(12,2),
  position_1 jsonb,
  color_2 integer,
  external_id_3 uuid,
  url_4 bigint not null,
  url_5 timestamptz,
  state_6 integer not null,
  size_bytes_7 integer not null,
  checksum_8 text not null,
  external_id_9 text,
  position_10 varchar(255) not null,
  visibility_11 uuid,
  archived_12 jsonb,
  checksum_13 jsonb,
  archived_14 jsonb,
  visibility_15 jsonb not null,
  url_16 boolean,
  checksum_17 text
);
create index invitations_created_at on invitations (created_at);
create index invitations_updated_at on invitations (updated_at);

-- roles: one row per role.
create table roles (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  milestone_id bigint not null references milestones(id) on delete cascade,
  position_0 text,
  state_1 bigint,
  priority_2 numeric(12,2),
  visibility_3 bigint,
  state_4 integer not null,
  archived_5 jsonb not null,
  state_6 text not null,
  url_7 varchar(255),
  expires_at_8 boolean,
  expires_at_9 bigint not null,
  owner_10 integer not null,
  priority_11 integer,
  name_12 timestamptz,
  state_13 timestamptz,
  archived_14 timestamptz not null,
  description_15 integer not null,
  owner_16 uuid
);
create index roles_created_at on roles (created_at);
create index roles_updated_at on roles (updated_at);

-- permissions: one row per permission.
create table permissions (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  runner_id bigint not null references runners(id) on delete cascade,
  checksum_0 jsonb not null,
  owner_1 text,
  version_2 numeric(12,2) not null,
  position_3 boolean,
  metadata_4 uuid,
  archived_5 timestamptz not null,
  kind_6 boolean not null,
  visibility_7 jsonb,
  version_8 text not null,
  external_id_9 timestamptz,
  priority_10 text,
  note_11 timestamptz,
  position_12 boolean,
  url_13 timestamptz not null,
  slug_14 numeric(12,2) not null,
  checksum_15 timestamptz,
  kind_16 integer
);
create index permissions_created_at on permissions (created_at);
create index permissions_updated_at on permissions (updated_at);

-- tags: one row per tag.
create table tags (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  payment_id bigint not null references payments(id) on delete cascade,
  slug_0 timestamptz,
  name_1 jsonb,
  title_2 integer not null,
  priority_3 timestamptz not null,
  slug_4 numeric(12,2),
  name_5 integer,
  name_6 jsonb,
  expires_at_7 boolean not null,
  email_8 boolean,
  archived_9 varchar(255),
  note_10 text,
  version_11 numeric(12,2),
  email_12 numeric(12,2),
  metadata_13 timestamptz,
  color_14 varchar(255),
  description_15 numeric(12,2),
  metadata_16 text
);
create index tags_created_at on tags (created_at);
create index tags_updated_at on tags (updated_at);

-- snippets: one row per snippet.
create table snippets (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  job_id bigint not null references jobs(id) on delete cascade,
  archived_0 integer,
  kind_1 text not null,
  owner_2 bigint,
  priority_3 integer,
  visibility_4 numeric(12,2) not null,
  priority_5 text,
  title_6 timestamptz not null,
  color_7 timestamptz,
  slug_8 integer,
  version_9 bigint not null,
  color_10 integer,
  visibility_11 numeric(12,2),
  position_12 timestamptz not null,
  external_id_13 varchar(255),
  state_14 timestamptz,
  visibility_15 text,
  checksum_16 uuid,
  name_17 jsonb not null,
  note_18 bigint not null,
  email_19 timestamptz,
  url_20 text
);
create index snippets_created_at on snippets (created_at);
create index snippets_updated_at on snippets (updated_at);

-- wikis: one row per wiki.
create table wikis (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  review_id bigint not null references reviews(id) on delete cascade,
  owner_0 timestamptz not null,
  color_1 numeric(12,2) not null,
  archived_2 boolean,
  priority_3 jsonb not null,
  external_id_4 uuid not null,
  email_5 integer,
  archived_6 bigint,
  checksum_7 integer,
  email_8 jsonb,
  color_9 bigint not null,
  priority_10 integer not null,
  description_11 uuid,
  checksum_12 jsonb,
  name_13 boolean,
  size_bytes_14 uuid not null,
  kind_15 integer,
  url_16 integer,
  state_17 timestamptz not null
);
create index wikis_created_at on wikis (created_at);
create index wikis_updated_at on wikis (updated_at);

-- search_indexes: one row per search_indexe.
create table search_indexes (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  coupon_id bigint not null references coupons(id) on delete cascade,
  size_bytes_0 timestamptz not null,
  url_1 jsonb not null,
  expires_at_2 timestamptz,
  state_3 jsonb,
  owner_4 text,
  external_id_5 text not null,
  title_6 bigint,
  state_7 bigint,
  expires_at_8 timestamptz,
  priority_9 numeric(12,2),
  external_id_10 numeric(12,2),
  email_11 boolean not null,
  email_12 jsonb,
  note_13 boolean not null,
  size_bytes_14 boolean not null,
  description_15 text,
  name_16 varchar(255) not null,
  priority_17 integer not null,
  priority_18 bigint,
  version_19 numeric(12,2),
  description_20 text,
  version_21 numeric(12,2),
  archived_22 varchar(255),
  note_23 jsonb
);
create index search_indexes_created_at on search_indexes (created_at);
create index search_indexes_updated_at on search_indexes (updated_at);
