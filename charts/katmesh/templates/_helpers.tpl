{{/* Standard labels (app.kubernetes.io/*) of every resource. */}}
{{- define "katmesh.labels" -}}
app.kubernetes.io/name: katmesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Selector labels of one component: call with (dict "root" $ "component" "inference"). */}}
{{- define "katmesh.selector" -}}
app.kubernetes.io/name: katmesh
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "katmesh.fullname" -}}
{{ printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "katmesh.image" -}}
{{ printf "%s/katmesh-%s:%s" .root.Values.imageRegistry .component (.root.Values.imageTag | default .root.Chart.AppVersion) }}
{{- end }}

{{/* Prometheus scrape annotations for a pod serving /q/metrics on port 8080. */}}
{{- define "katmesh.scrapeAnnotations" -}}
{{- if .Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/path: /q/metrics
prometheus.io/port: "8080"
{{- if .Values.tls.enabled }}
prometheus.io/scheme: https
{{- end }}
{{- end }}
{{- end }}

{{/* Environment every service shares: Kafka and its credentials, static group membership by pod name.
       Call with (dict "root" $ "component" "inference"): with kafka.createUsers each service is its own user. */}}
{{- define "katmesh.commonEnv" -}}
{{- $kafka := .root.Values.kafka }}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ $kafka.bootstrapServers | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- if $kafka.createUsers }}
{{- if not (hasPrefix "SASL_" $kafka.securityProtocol) }}
{{- fail "kafka.createUsers makes SCRAM users: set kafka.securityProtocol to SASL_SSL or SASL_PLAINTEXT" }}
{{- end }}
- name: KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: KAFKA_SASL_JAAS_CONFIG
  valueFrom:
    {{- /* the secret Strimzi's User Operator makes for KafkaUser katmesh-<component> */}}
    secretKeyRef: {name: {{ printf "katmesh-%s" .component }}, key: sasl.jaas.config}
{{- else if $kafka.existingSecret }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $kafka.saslMechanism | quote }}
- name: KATMESH_KAFKA_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ $kafka.existingSecret }}, key: username}
- name: KATMESH_KAFKA_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $kafka.existingSecret }}, key: password}
- name: KAFKA_SASL_JAAS_CONFIG
  value: {{ printf "org.apache.kafka.common.security.%s required username=\"$(KATMESH_KAFKA_USERNAME)\" password=\"$(KATMESH_KAFKA_PASSWORD)\";" (ternary "plain.PlainLoginModule" "scram.ScramLoginModule" (eq $kafka.saslMechanism "PLAIN")) | quote }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef: {fieldPath: metadata.name}
- name: KAFKA_GROUP_INSTANCE_ID
  value: "$(POD_NAME)"
- name: QUARKUS_HTTP_HOST
  value: 0.0.0.0
- name: QUARKUS_HTTP_PORT
  value: "8080"
- name: KATMESH_DATA_DIR
  value: /data
{{- with $kafka.tls.caSecret }}
{{- if not (hasSuffix "SSL" $kafka.securityProtocol) }}
{{- fail "kafka.tls.caSecret is the CA of a TLS listener: set kafka.securityProtocol to SASL_SSL or SSL" }}
{{- end }}
- name: KAFKA_SSL_TRUSTSTORE_TYPE
  value: PEM
- name: KAFKA_SSL_TRUSTSTORE_LOCATION
  value: {{ printf "/etc/katmesh/kafka-ca/%s" $kafka.tls.caKey | quote }}
{{- end }}
{{- include "katmesh.tlsEnv" . }}
{{- end }}

{{/* The secret with the services' certificate (tls.crt, tls.key, ca.crt): given, or the one cert-manager makes. */}}
{{- define "katmesh.tlsSecret" -}}
{{ .Values.tls.secretName | default (printf "%s-tls" .Release.Name) }}
{{- end }}

{{/* With tls.enabled: HTTPS only on the HTTP port, TLS on the gRPC server, and the gRPC client of another
       service (inference -> learner's Weights, rollout -> inference) trusting the CA. Call as commonEnv. */}}
{{- define "katmesh.tlsEnv" -}}
{{- if .root.Values.tls.enabled }}
- name: QUARKUS_HTTP_SSL_PORT
  value: "8080"
- name: QUARKUS_HTTP_INSECURE_REQUESTS
  value: disabled
- name: QUARKUS_TLS_KEY_STORE_PEM_MESH_CERT
  value: /etc/katmesh/tls/tls.crt
- name: QUARKUS_TLS_KEY_STORE_PEM_MESH_KEY
  value: /etc/katmesh/tls/tls.key
{{- if has .component (list "inference" "learner") }}
- name: QUARKUS_GRPC_SERVER_PLAIN_TEXT
  value: "false"
- name: QUARKUS_GRPC_SERVER_SSL_CERTIFICATE
  value: /etc/katmesh/tls/tls.crt
- name: QUARKUS_GRPC_SERVER_SSL_KEY
  value: /etc/katmesh/tls/tls.key
{{- end }}
{{- $client := get (dict "inference" "WEIGHTS" "rollout" "INFERENCE") .component }}
{{- with $client }}
- name: {{ printf "QUARKUS_GRPC_CLIENTS_%s_PLAIN_TEXT" . }}
  value: "false"
- name: {{ printf "QUARKUS_GRPC_CLIENTS_%s_SSL_TRUST_STORE" . }}
  value: /etc/katmesh/tls/ca.crt
{{- end }}
{{- end }}
{{- end }}

{{/* Volume mounts of the certificates commonEnv points at (call with the root context). */}}
{{- define "katmesh.tlsVolumeMounts" -}}
{{- if .Values.tls.enabled }}
- {name: tls, mountPath: /etc/katmesh/tls, readOnly: true}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/katmesh/kafka-ca, readOnly: true}
{{- end }}
{{- end }}

{{/* The volumes of katmesh.tlsVolumeMounts. */}}
{{- define "katmesh.tlsVolumes" -}}
{{- if .Values.tls.enabled }}
- name: tls
  secret: {secretName: {{ include "katmesh.tlsSecret" . }}}
{{- end }}
{{- with .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ . }}}
{{- end }}
{{- end }}

{{/* Liveness and readiness probes on SmallRye Health. */}}
{{- define "katmesh.probes" -}}
livenessProbe:
  httpGet: {path: /q/health/live, port: http, scheme: {{ ternary "HTTPS" "HTTP" .Values.tls.enabled }}}
  initialDelaySeconds: 20
  periodSeconds: 10
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /q/health/ready, port: http, scheme: {{ ternary "HTTPS" "HTTP" .Values.tls.enabled }}}
  initialDelaySeconds: 10
  periodSeconds: 5
  failureThreshold: 3
{{- end }}

{{/* gpu:0,gpu:1,... for N GPUs. */}}
{{- define "katmesh.gpuDevices" -}}
{{- $devices := list }}
{{- range $i := until . }}
{{- $devices = append $devices (printf "gpu:%d" $i) }}
{{- end }}
{{- join "," $devices }}
{{- end }}

{{/* The secret holding inference's credential for the learner's Weights service (key token). */}}
{{- define "katmesh.weightsTokenSecret" -}}
{{ .Values.learner.existingWeightsTokenSecret | default (printf "%s-weights-token" .Release.Name) }}
{{- end }}

{{/* The reward's katmesh.reward.feedback.senders: sender=glob,glob;... from reward.feedbackSenders (by name). */}}
{{- define "katmesh.feedbackSenders" -}}
{{- $parts := list }}
{{- range $name, $globs := .Values.reward.feedbackSenders }}
{{- $parts = append $parts (printf "%s=%s" $name (join "," $globs)) }}
{{- end }}
{{- join ";" $parts }}
{{- end }}
