"""The HTTP API: ingest documents, fetch one, search by similarity.

Run it: `uvicorn --factory app.main:create_app --host 0.0.0.0 --port 8000`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.db import Document, database_url, init_db, make_engine
from app.embedding import EmptyText, embed


class DocumentIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1)


class DocumentOut(BaseModel):
    id: int
    title: str
    body: str


class Hit(BaseModel):
    id: int
    title: str
    distance: float  # cosine distance: 0 same direction, 2 opposite


class SearchResult(BaseModel):
    query: str
    hits: list[Hit]


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def create_app(engine: Engine | None = None) -> FastAPI:
    """The app on `engine`, or on DATABASE_URL when none is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = engine or make_engine(database_url())
        init_db(db)
        app.state.sessions = sessionmaker(db, expire_on_commit=False)
        yield
        if engine is None:
            db.dispose()

    app = FastAPI(title="docsearch", lifespan=lifespan)

    @app.get("/health")
    def health(s: DbSession) -> dict[str, str]:
        version = s.execute(text("SELECT current_setting('server_version')")).scalar_one()
        vector = s.execute(
            text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        ).scalar_one()
        return {"status": "ok", "postgres": str(version), "pgvector": str(vector)}

    @app.post("/documents", status_code=201)
    def ingest(doc: DocumentIn, s: DbSession) -> DocumentOut:
        try:
            vector = embed(f"{doc.title}\n{doc.body}")
        except EmptyText as exc:
            raise HTTPException(422, str(exc)) from exc
        row = Document(title=doc.title, body=doc.body, embedding=vector)
        s.add(row)
        s.commit()
        return DocumentOut(id=row.id, title=row.title, body=row.body)

    @app.get("/documents/{doc_id}")
    def get_document(doc_id: int, s: DbSession) -> DocumentOut:
        row = s.get(Document, doc_id)
        if row is None:
            raise HTTPException(404, f"no document {doc_id}")
        return DocumentOut(id=row.id, title=row.title, body=row.body)

    @app.get("/search")
    def search(
        s: DbSession,
        q: Annotated[str, Query(min_length=1)],
        k: Annotated[int, Query(ge=1, le=100)] = 5,
    ) -> SearchResult:
        try:
            vector = embed(q)
        except EmptyText as exc:
            raise HTTPException(422, str(exc)) from exc
        distance = Document.embedding.cosine_distance(vector).label("distance")
        rows = s.execute(select(Document.id, Document.title, distance).order_by(distance).limit(k))
        hits = [Hit(id=r.id, title=r.title, distance=float(r.distance)) for r in rows]
        return SearchResult(query=q, hits=hits)

    return app
