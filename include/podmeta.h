/*
 * podmeta.h: Kubernetes objects as route sources see them, and the one
 * function that turns a pod (plus the NodePort Services that select it)
 * into a struct route_pod.  Both the static route file and the Kubernetes
 * watch produce these structs, so both feed the route table the same way.
 * It knows the three endpoint records of crater-cluster-facts.md:
 *   - annotation <prefix><rule>: {"name","containerPort","address","nodePort"}
 *   - annotation crater.raids.io/ssh-enabled: "<ip>:<nodePort>"
 *   - Services of type NodePort whose selector matches the pod's labels.
 * Pure functions; any thread.
 */
#ifndef JG_PODMETA_H
#define JG_PODMETA_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "route.h"

struct podmeta_kv {
	char	*key;
	char	*value;
};

struct podmeta_port {
	char	*name;			/* may be NULL */
	uint16_t port;			/* containerPort */
};

struct podmeta_pod {
	char	*namespace;
	char	*name;
	char	*resource_version;	/* may be NULL */
	struct podmeta_kv *labels;
	size_t	 nlabels;
	struct podmeta_kv *annotations;
	size_t	 nannotations;
	char	*phase;			/* status.phase, may be NULL */
	char	*host_ip;		/* status.hostIP, may be NULL */
	char	*node_name;		/* spec.nodeName, may be NULL */
	struct podmeta_port *ports;	/* all containers' ports */
	size_t	 nports;
};

struct podmeta_service_port {
	char	*name;			/* may be NULL */
	uint16_t port;
	uint16_t target_port;		/* 0 when target is named */
	char	*target_port_name;	/* NULL when target is a number */
	uint16_t node_port;		/* 0 when not allocated */
};

struct podmeta_service {
	char	*namespace;
	char	*name;
	char	*type;			/* "NodePort", "ClusterIP", ... */
	struct podmeta_kv *selector;
	size_t	 nselector;
	struct podmeta_kv *annotations;
	size_t	 nannotations;
	struct podmeta_service_port *ports;
	size_t	 nports;
};

/* Frees every member and the struct; NULL is a no-op. */
void	podmeta_pod_free(struct podmeta_pod *pod);
void	podmeta_service_free(struct podmeta_service *svc);

/* Returns the value for key, or NULL. */
const char *podmeta_get(const struct podmeta_kv *kv, size_t n,
	    const char *key);

/* True when svc is a NodePort Service in pod's namespace whose non-empty
 * selector is a subset of pod's labels. */
bool	podmeta_service_selects(const struct podmeta_service *svc,
	    const struct podmeta_pod *pod);

/*
 * Parses one nodeport annotation value (JSON) for rule rule_name into *out.
 * Unknown JSON keys are ignored.  containerPort and nodePort must be
 * integers 1..65535, address an IPv4 or IPv6 literal (when absent,
 * host_ip is used; when both are missing that is an error).  On error
 * returns JG_ERR_MALFORMED with a sentence in err naming the field.
 */
enum jg_err podmeta_parse_nodeport_annotation(const char *rule_name,
	    const char *json, const char *host_ip, struct route_rule *out,
	    char *err, size_t errlen);

/* Parses "ip:port" / "[v6]:port" (the ssh-enabled annotation). */
enum jg_err podmeta_parse_host_port(const char *text, char *addr,
	    size_t addrlen, uint16_t *port, char *err, size_t errlen);

/*
 * Builds the route_pod for pod.  Owner, job, display name, base-url and
 * task come from the keys in naming; the index is the number after the
 * last '-' of the pod name.  Rules are collected from each endpoint kind
 * in naming->precedence order; a rule (by container port) found by an
 * earlier kind is not replaced by a later one.  node_address, when not
 * NULL, maps a node name to its address for Service endpoints (else the
 * pod's hostIP is used).  Malformed records become rp_problems and the
 * pod's other rules still load.  A pod with no owner label yields
 * JG_ERR_NOT_FOUND (not routable; not an error to log per pod).
 * On success *out holds one reference.
 */
typedef const char *(*podmeta_node_address_fn)(const char *node_name,
    void *arg);

enum jg_err podmeta_resolve(const struct podmeta_pod *pod,
	    const struct podmeta_service *const *services, size_t nservices,
	    const struct config_naming *naming,
	    podmeta_node_address_fn node_address, void *node_arg,
	    struct route_pod **out);

#endif /* JG_PODMETA_H */
