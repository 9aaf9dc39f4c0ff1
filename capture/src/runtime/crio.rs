//! CRI-O's info API: plain HTTP on its unix socket. `GET /containers/{id}` answers JSON
//! with the container's `image`, `image_ref` (digest form) and kubelet `labels`;
//! `GET /info` answers with `storage_driver`, `cgroup_driver`, .. (used to recognise it).

use super::ContainerInfo;

/// The container as CRI-O's `GET /containers/{id}` describes it.
pub fn parse_container(id: &str, body: &str) -> Result<ContainerInfo, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("bad JSON: {e}"))?;
    let image = v["image"].as_str().unwrap_or("").to_string();
    let image_ref = v["image_ref"].as_str().unwrap_or("");
    let digest = image_ref
        .rsplit_once('@')
        .map(|(_, d)| d)
        .or_else(|| image_ref.starts_with("sha256:").then_some(image_ref))
        .unwrap_or("")
        .to_string();
    let labels = v["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(ContainerInfo {
        id: id.to_string(),
        image,
        digest,
        labels,
        name: v["name"].as_str().map(str::to_string),
        namespace: None,
    })
}

/// Does a `GET /info` answer look like CRI-O's?
pub fn is_crio_info(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("storage_driver").is_some() && v.get("cgroup_driver").is_some())
}

/// Recorded from CRI-O 1.28 (`curl --unix-socket /run/crio/crio.sock
/// http://localhost/containers/ID`), ids shortened.
#[cfg(test)]
pub const FIXTURE: &str = r#"{"name":"k8s_web_web-1_payments_0f2c6a8e_0","pid":41231,"image":"docker.io/acme/web:1.0","image_ref":"docker.io/acme/web@sha256:4c1f0e6c2a","created_time":1732350000000000000,"labels":{"io.kubernetes.container.name":"web","io.kubernetes.pod.name":"web-1","io.kubernetes.pod.namespace":"payments","io.kubernetes.pod.uid":"0f2c6a8e-5b1d-4c3e-9a7f-2d8e6b4c1a90"},"annotations":{"io.kubernetes.container.restartCount":"0"},"crio_annotations":{"io.kubernetes.cri-o.ContainerType":"container"},"log_path":"/var/log/pods/payments_web-1_0f2c6a8e/web/0.log","root":"/var/lib/containers/storage/overlay/abc/merged","sandbox":"9d1e","ip_addresses":["10.88.0.7"]}"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_info_parses() {
        let c = parse_container("c1", FIXTURE).unwrap();
        assert_eq!(c.image, "docker.io/acme/web:1.0");
        assert_eq!(c.digest, "sha256:4c1f0e6c2a");
        assert_eq!(c.labels["io.kubernetes.pod.namespace"], "payments");
        assert_eq!(c.labels["io.kubernetes.pod.name"], "web-1");
        assert!(parse_container("c1", "<html>").is_err());
        assert!(is_crio_info(
            r#"{"storage_driver":"overlay","storage_root":"/var/lib/containers/storage","cgroup_driver":"systemd","default_id_mappings":{}}"#
        ));
        assert!(!is_crio_info("OK"));
    }
}
