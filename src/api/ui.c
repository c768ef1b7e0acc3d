/* ui: the dashboard at /ui — the files of src/ui, compiled in (no CDN, no
 * build step). The page is a client of the public API with the user's own
 * token, so serving it needs no credentials and grants nothing; a strict
 * Content-Security-Policy keeps it to this server's own scripts. */
#include <string.h>

#include "api_internal.h"
#include "ui_files.h"

static void serve(struct jw_call *c, const char *name)
{
    for (const struct jw_ui_file *f = jw_ui_files; f->name; f++) {
        if (strcmp(f->name, name) != 0)
            continue;
        jw_req_add_header(
            c->req, "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
        jw_req_add_header(c->req, "Referrer-Policy", "no-referrer");
        jw_reply(c->req, 200, f->type, f->data, f->len);
        return;
    }
    jw_reply_problemf(c->req, 404, NULL, "no such file of the dashboard");
}

static void index_page(struct jw_call *c)
{
    serve(c, "index.html");
}

static void file(struct jw_call *c)
{
    const char *name = jw_req_param(c->req, "file");
    serve(c, name ? name : "");
}

static const struct jw_api_route routes[] = {
    {JW_GET, "/ui", JW_ACCESS_PUBLIC, index_page, NULL, NULL},
    {JW_GET, "/ui/", JW_ACCESS_PUBLIC, index_page, NULL, NULL},
    {JW_GET, "/ui/:file", JW_ACCESS_PUBLIC, file, NULL, NULL},
};

void jw_api_ui_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
