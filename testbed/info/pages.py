"""About, help, privacy, terms, contact and glossary pages; robots.txt and the favicon."""

from __future__ import annotations

from litestar import Controller, MediaType, Request, Response, get
from litestar.response import Redirect, Template

from testbed.auth import PUBLIC
from testbed.info.glossary import GLOSSARY

# Pages that only make sense to a signed-in person, or that are not content, stay out of search
# engines; everything public (calls, products, published findings) may be indexed.
ROBOTS_TXT = """User-agent: *
Disallow: /api/
Disallow: /account
Disallow: /admin
Disallow: /notifications
Disallow: /login
Disallow: /signup
Disallow: /invitations/
"""


class InfoController(Controller):
    include_in_schema = False
    opt = PUBLIC

    @get("/about", media_type=MediaType.HTML)
    async def about(self) -> Template:
        return Template("info/about.html.j2")

    @get("/help", media_type=MediaType.HTML)
    async def help(self) -> Template:
        return Template("info/help.html.j2")

    @get("/privacy", media_type=MediaType.HTML)
    async def privacy(self) -> Template:
        return Template("info/privacy.html.j2")

    @get("/terms", media_type=MediaType.HTML)
    async def terms(self) -> Template:
        return Template("info/terms.html.j2")

    @get("/contact", media_type=MediaType.HTML)
    async def contact(self, request: Request) -> Template:
        settings = request.app.state["settings"]
        return Template("info/contact.html.j2", context={"address": settings.contact_email})

    @get("/glossary", media_type=MediaType.HTML)
    async def glossary(self) -> Template:
        return Template("info/glossary.html.j2", context={"glossary": GLOSSARY})

    @get("/robots.txt", media_type=MediaType.TEXT)
    async def robots(self) -> Response[str]:
        return Response(ROBOTS_TXT, media_type=MediaType.TEXT)

    @get("/favicon.ico", status_code=301)
    async def favicon(self) -> Redirect:
        # Browsers ask for /favicon.ico whatever the page links; the icon itself is an SVG.
        return Redirect("/static/favicon.svg", status_code=301)


ROUTE_HANDLERS = [InfoController]
