-- The schema of app/db.py, made when the database is new: by the db container's entrypoint
-- (compose mounts this folder) and by `devenv host-install --with-db`, from [postgres] init.
-- app.db.init_db makes the same objects if they are missing, so both stay in step.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE IF NOT EXISTS documents (
    id serial PRIMARY KEY,
    title varchar(200) NOT NULL,
    body text NOT NULL,
    embedding vector(256) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS documents_embedding_hnsw ON documents
    USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
