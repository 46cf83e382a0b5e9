{{- define "cp.fullname" -}}
{{- printf "certplatform-%s" .Values.role | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cp.selector" -}}
app.kubernetes.io/name: certplatform
app.kubernetes.io/component: {{ .Values.role }}
{{- end -}}

{{- define "cp.labels" -}}
{{ include "cp.selector" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cp.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "cp.port" -}}
{{- index .Values.ports .Values.role -}}
{{- end -}}

{{- define "cp.serves" -}}
{{- if ne .Values.role "worker" }}true{{ end -}}
{{- end -}}

{{/* The pod: one container, non-root, read-only root filesystem, writes to /tmp only. */}}
{{- define "cp.pod" -}}
metadata:
  labels:
    {{- include "cp.labels" . | nindent 4 }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap-env.yaml") . | sha256sum }}
    prometheus.io/scrape: "true"
    prometheus.io/path: /metrics
    prometheus.io/port: {{ if include "cp.serves" . }}{{ include "cp.port" . | quote }}{{ else }}{{ .Values.workerMetricsPort | quote }}{{ end }}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 30
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: app
      image: {{ include "cp.image" . | quote }}
      imagePullPolicy: IfNotPresent
      {{- if include "cp.serves" . }}
      # One process per pod (the HPA counts pods; /metrics is one process's).
      args: ["serve", "--role", {{ .Values.role | quote }}, "--no-migrate", "--workers", "1"]
      ports:
        - name: http
          containerPort: {{ include "cp.port" . }}
          protocol: TCP
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 2
        failureThreshold: 60
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        periodSeconds: 5
        timeoutSeconds: 2
        failureThreshold: 2
      {{- else }}
      args: ["worker", "--metrics-port", {{ .Values.workerMetricsPort | quote }}]
      ports:
        - name: metrics
          containerPort: {{ .Values.workerMetricsPort }}
          protocol: TCP
      # The worker serves no traffic; its metrics listener answering is its sign of life.
      livenessProbe:
        httpGet: {path: /metrics, port: metrics}
        periodSeconds: 30
        timeoutSeconds: 5
        failureThreshold: 3
      readinessProbe:
        httpGet: {path: /metrics, port: metrics}
        periodSeconds: 30
        timeoutSeconds: 5
      {{- end }}
      envFrom:
        - configMapRef:
            name: {{ include "cp.fullname" . }}-env
        - secretRef:
            name: {{ .Values.secretName }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        - name: data
          mountPath: /data
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 256Mi
    - name: data
      emptyDir:
        sizeLimit: 1Gi
{{- end -}}
