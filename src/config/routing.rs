//! Which route a request path belongs to, and which targets a route delivers to (the `--forward`
//! targets included).

use super::validate::check_url;
use super::{Config, ConfigError, RouteConfig, TargetConfig};

/// The implicit catch-all route: paths no `[[routes]]` prefix takes.
pub const DEFAULT_ROUTE: &str = "default";

/// The route a request path belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteMatch<'c, 'p> {
    /// `None`: the implicit [`DEFAULT_ROUTE`].
    pub route: Option<&'c RouteConfig>,
    /// The path after the route's prefix (`""` when the path is the prefix itself; the whole path
    /// for the default route and for a route on `/`), for `append_path`.
    pub rest: &'p str,
}

impl RouteMatch<'_, '_> {
    pub fn name(&self) -> &str {
        self.route.map_or(DEFAULT_ROUTE, |r| r.name.as_str())
    }
}

/// A route path without trailing slashes, so `/gh/` and `/gh` are the same prefix.
pub(super) fn normalized_prefix(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// `path` minus `prefix` when the prefix ends on a segment boundary.
fn strip_segments<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

impl Config {
    /// The route for a request path: the longest prefix on whole path segments (`/gh` takes `/gh`,
    /// `/gh/` and `/gh/x`, never `/ghost`; `/` takes everything), else the default route.
    ///
    /// A linear scan with no allocation: a configuration holds a handful of routes, and a prebuilt
    /// index would have to be kept in step with every reload.
    pub fn route_for<'c, 'p>(&'c self, path: &'p str) -> RouteMatch<'c, 'p> {
        let mut best = RouteMatch {
            route: None,
            rest: path,
        };
        let mut best_len = 0;
        for route in &self.routes {
            let prefix = normalized_prefix(&route.path);
            if prefix.len() > best_len
                && let Some(rest) = strip_segments(path, prefix)
            {
                best = RouteMatch {
                    route: Some(route),
                    rest,
                };
                best_len = prefix.len();
            }
        }
        best
    }

    pub fn route(&self, name: &str) -> Option<&RouteConfig> {
        self.routes.iter().find(|r| r.name == name)
    }

    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// The targets a route's events go to: its own `targets` in order, then the `--forward`
    /// targets. The default route (and a route name no longer configured, e.g. after a reload)
    /// gets only the `--forward` targets.
    pub fn targets_for_route(&self, route: &str) -> Vec<&TargetConfig> {
        let named = self.route(route).map_or(&[][..], |r| &r.targets[..]);
        let mut out: Vec<&TargetConfig> = named.iter().filter_map(|n| self.target(n)).collect();
        for t in self.targets.iter().filter(|t| t.forward) {
            if !out.iter().any(|o| o.name == t.name) {
                out.push(t);
            }
        }
        out
    }

    /// Adds one target per `--forward` URL, named `forward-1`, `forward-2`, ..., attached to every
    /// route. Replaces the forward targets of an earlier call, so it can be applied again to each
    /// reloaded configuration. Nothing changes on error.
    pub fn with_forwards(&mut self, urls: &[String]) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: None,
            line: None,
            key: "--forward".to_owned(),
            message,
        };
        let mut added = Vec::with_capacity(urls.len());
        for (i, url) in urls.iter().enumerate() {
            // `localhost:3000/hooks` means http://, as Stripe CLI's `--forward-to` takes it.
            let url = &if url.contains("://") {
                url.clone()
            } else {
                format!("http://{url}")
            };
            check_url(url).map_err(invalid)?;
            let name = format!("forward-{}", i + 1);
            if self.targets.iter().any(|t| !t.forward && t.name == name) {
                return Err(invalid(format!(
                    "target name \"{name}\" is taken by a [[targets]] entry"
                )));
            }
            let mut target = TargetConfig::new(name, url.clone());
            target.forward = true;
            added.push(target);
        }
        self.targets.retain(|t| !t.forward);
        self.targets.extend(added);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let cfg: Config = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        cfg
    }

    const ROUTES: &str = r#"
        [[targets]]
        name = "app"
        url = "http://127.0.0.1:3000/"
        [[targets]]
        name = "audit"
        url = "http://127.0.0.1:3001/"
        [[routes]]
        name = "gh"
        path = "/gh"
        targets = ["app"]
        [[routes]]
        name = "gh-org"
        path = "/gh/org/"
        targets = ["audit", "app"]
        [[routes]]
        name = "stripe"
        path = "/stripe"
    "#;

    #[test]
    fn route_for_takes_the_longest_whole_segment_prefix() {
        let cfg = config(ROUTES);
        let table: &[(&str, &str, &str)] = &[
            ("/gh", "gh", ""),
            ("/gh/", "gh", "/"),
            ("/gh/x/y", "gh", "/x/y"),
            ("/ghost", "default", "/ghost"),
            ("/gh/org", "gh-org", ""),
            ("/gh/org/repo", "gh-org", "/repo"),
            ("/gh/organ", "gh", "/organ"),
            ("/stripe/webhooks", "stripe", "/webhooks"),
            ("/", "default", "/"),
            ("/other", "default", "/other"),
            ("", "default", ""),
        ];
        for (path, name, rest) in table {
            let m = cfg.route_for(path);
            assert_eq!((m.name(), m.rest), (*name, *rest), "path {path}");
        }
        assert!(cfg.route_for("/ghost").route.is_none());
    }

    #[test]
    fn a_root_route_takes_everything_but_longer_prefixes_win() {
        let cfg = config(&format!(
            "{ROUTES}[[routes]]\nname = \"all\"\npath = \"/\"\n"
        ));
        assert_eq!(cfg.route_for("/ghost").name(), "all");
        assert_eq!(cfg.route_for("/ghost").rest, "/ghost");
        assert_eq!(cfg.route_for("/").name(), "all");
        assert_eq!(cfg.route_for("/gh/1").name(), "gh");
    }

    #[test]
    fn forwards_join_every_route_and_the_default_one() {
        let mut cfg = config(ROUTES);
        let names = |cfg: &Config, route: &str| -> Vec<String> {
            cfg.targets_for_route(route)
                .into_iter()
                .map(|t| t.name.clone())
                .collect()
        };
        assert!(names(&cfg, DEFAULT_ROUTE).is_empty());
        assert_eq!(names(&cfg, "gh-org"), ["audit", "app"]);

        let urls = [
            "http://localhost:3000/webhooks".to_owned(),
            "https://example.com".to_owned(),
        ];
        cfg.with_forwards(&urls).unwrap();
        cfg.validate().unwrap();
        assert_eq!(names(&cfg, DEFAULT_ROUTE), ["forward-1", "forward-2"]);
        assert_eq!(names(&cfg, "gh"), ["app", "forward-1", "forward-2"]);
        assert_eq!(names(&cfg, "stripe"), ["forward-1", "forward-2"]);
        assert_eq!(names(&cfg, "gone-after-reload"), ["forward-1", "forward-2"]);
        assert_eq!(cfg.target("forward-1").unwrap().url, urls[0]);

        // Applying again replaces rather than duplicates.
        cfg.with_forwards(&urls[..1]).unwrap();
        assert_eq!(names(&cfg, DEFAULT_ROUTE), ["forward-1"]);
        assert_eq!(cfg.targets.len(), 3);
    }

    #[test]
    fn with_forwards_rejects_bad_urls_and_taken_names_without_changing_anything() {
        let mut cfg = Config::default();
        cfg.with_forwards(&["http://a".to_owned()]).unwrap();
        let mut bare = config("");
        bare.with_forwards(&["localhost:3000/hooks".to_owned()])
            .unwrap();
        assert_eq!(bare.targets[0].url, "http://localhost:3000/hooks");
        let before = cfg.clone();
        let e = cfg
            .with_forwards(&["http://b".to_owned(), "htp://x".to_owned()])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--forward: url \"htp://x\" is not an http(s) URL"
        );
        assert_eq!(cfg, before);

        let mut cfg = config("[[targets]]\nname = \"forward-1\"\nurl = \"http://x\"\n");
        let e = cfg.with_forwards(&["http://a".to_owned()]).unwrap_err();
        assert!(e.to_string().contains("\"forward-1\" is taken"), "{e}");
    }
}
